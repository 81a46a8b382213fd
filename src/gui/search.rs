//! The search box: a query in the core's tag language (whole words, or a prefix while typing, `OR`, `-word`,
//! "phrases", `conf>0.8`), sent to the engine shortly after typing stops, with tag suggestions
//! for the word being typed from `Store::suggest_tags`.

use egui::Ui;

use crate::engine::Command;

/// Seconds of no typing before a query is sent.
const DEBOUNCE_S: f64 = 0.15;

/// The search box's state.
#[derive(Default)]
pub struct SearchBox {
    pub text: String,
    /// The query the grid shows results of (empty: the whole library).
    pub applied: String,
    edited_at: Option<f64>,
    pub suggestions: Vec<(String, i64)>,
    suggested_for: String,
    /// Why the last query is invalid.
    pub error: Option<String>,
    /// Hits of the applied query.
    pub hits: Option<usize>,
}

/// The word being typed at the end of a query, without operators.
pub fn current_word(text: &str) -> &str {
    if text.ends_with(char::is_whitespace) {
        return "";
    }
    let word = text.rsplit(char::is_whitespace).next().unwrap_or("");
    word.trim_start_matches(['-', '(', '"', '|'])
}

impl SearchBox {
    /// Shows the box and suggestions; queues searches and suggestion requests.
    pub fn search_ui(&mut self, out: &mut Vec<Command>, ui: &mut Ui) {
        let now = ui.input(|i| i.time);
        let label = ui.label("Search");
        let edit = ui
            .add(
                egui::TextEdit::singleline(&mut self.text)
                    .hint_text("tags: dog -cat, \"traffic light\" OR car conf>0.7")
                    .desired_width(320.0),
            )
            .labelled_by(label.id)
            .on_hover_text("Ctrl+F");
        // Ctrl+F (Cmd+F) jumps to the search box, as in every app with one.
        if ui.input_mut(|i| i.consume_key(egui::Modifiers::COMMAND, egui::Key::F)) {
            edit.request_focus();
        }
        if edit.changed() {
            self.edited_at = Some(now);
            let word = current_word(&self.text).to_string();
            if word != self.suggested_for {
                self.suggested_for = word.clone();
                if word.is_empty() {
                    self.suggestions.clear();
                } else {
                    out.push(Command::Suggest(word));
                }
            }
        }
        let enter = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        if let Some(t) = self.edited_at {
            let due = now - t >= DEBOUNCE_S;
            if due || enter {
                self.edited_at = None;
                self.apply(out);
            } else {
                ui.ctx()
                    .request_repaint_after(std::time::Duration::from_secs_f64(DEBOUNCE_S));
            }
        }
        if !self.text.is_empty()
            && ui
                .small_button("×")
                .on_hover_text("Clear the search")
                .clicked()
        {
            self.text.clear();
            self.suggestions.clear();
            self.suggested_for.clear();
            self.apply(out);
        }
        if let Some(err) = &self.error {
            ui.colored_label(ui.visuals().warn_fg_color, err);
        } else if let Some(n) = self.hits.filter(|_| !self.applied.is_empty()) {
            ui.weak(format!("{n} found"));
        }
    }

    /// Suggestion chips under the box; clicking one completes the word being typed.
    pub fn suggestions_ui(&mut self, out: &mut Vec<Command>, ui: &mut Ui) {
        if self.suggestions.is_empty() || current_word(&self.text).is_empty() {
            return;
        }
        let mut chosen = None;
        ui.horizontal_wrapped(|ui| {
            ui.weak("Tags:");
            for (tag, n) in &self.suggestions {
                if ui.small_button(format!("{tag} ({n})")).clicked() {
                    chosen = Some(tag.clone());
                }
            }
        });
        if let Some(tag) = chosen {
            let word = current_word(&self.text).to_string();
            let keep = self.text.len() - word.len();
            self.text.truncate(keep);
            if tag.contains(' ') {
                self.text.push_str(&format!("\"{tag}\" "));
            } else {
                self.text.push_str(&tag);
                self.text.push(' ');
            }
            self.suggestions.clear();
            self.suggested_for.clear();
            self.apply(out);
        }
    }

    /// Replaces the query (from the tag browser) and searches for it at once.
    pub fn set_query(&mut self, query: &str, out: &mut Vec<Command>) {
        self.text = query.to_string();
        self.suggestions.clear();
        self.suggested_for.clear();
        self.edited_at = None;
        self.apply(out);
    }

    fn apply(&mut self, out: &mut Vec<Command>) {
        let q = self.text.trim().to_string();
        if q == self.applied {
            return;
        }
        self.applied = q.clone();
        self.error = None;
        self.hits = None;
        if !q.is_empty() {
            out.push(Command::Search(q));
        }
    }

    /// Suggestions arrived (ignored when the user has typed on).
    pub fn set_suggestions(&mut self, prefix: &str, tags: Vec<(String, i64)>) {
        if prefix == self.suggested_for {
            self.suggestions = tags;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::current_word;

    #[test]
    fn current_word_skips_operators() {
        assert_eq!(current_word("dog -ca"), "ca");
        assert_eq!(current_word("(be"), "be");
        assert_eq!(current_word("dog "), "");
    }
}
