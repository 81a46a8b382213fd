//! The tag browser in the side panel: the library's friendly tags under their categories
//! (animal › pet › dog) with photo counts, from the engine's [`LibrarySnapshot`]. Clicking a
//! tag shows its photos in the grid through the ordinary search (`tag:dog`), so the count
//! beside a tag is what the grid finds; a filter narrows a long list.
//!
//! [`LibrarySnapshot`]: crate::engine::LibrarySnapshot

use egui::Ui;

use crate::store::tags::TagNode;

/// Tags listed at the top level before "show all".
const ROOTS_SHOWN: usize = 40;

/// The query that shows exactly one tag's photos.
pub fn tag_query(tag: &str) -> String {
    if tag.chars().all(|c| c.is_alphanumeric()) {
        format!("tag:{tag}")
    } else {
        format!("tag:\"{}\"", tag.replace('"', ""))
    }
}

/// The browser's state: only what the user typed or opened, never library data.
#[derive(Default)]
pub struct TagsPanel {
    /// Only tags containing this (case-insensitive), with their categories kept as context.
    pub filter: String,
    /// Every top-level tag, not just the largest.
    pub show_all: bool,
}

impl TagsPanel {
    /// The browser. `applied` is the search the grid shows (its tag is highlighted); returns
    /// the query to search for when a tag was clicked.
    pub fn tags_ui(&mut self, tree: &[TagNode], applied: &str, ui: &mut Ui) -> Option<String> {
        let mut chosen = None;
        egui::CollapsingHeader::new(format!("Tags ({})", count_tags(tree)))
            .id_salt("tag-browser")
            .default_open(true)
            .show(ui, |ui| {
                if tree.is_empty() {
                    ui.weak("No tags yet: they appear as photos are labelled.");
                    return;
                }
                ui.horizontal(|ui| {
                    let label = ui.label("Filter");
                    ui.add(
                        egui::TextEdit::singleline(&mut self.filter)
                            .hint_text("dog, beach…")
                            .desired_width(140.0),
                    )
                    .labelled_by(label.id);
                });
                let filter = self.filter.trim().to_lowercase();
                let roots: Vec<&TagNode> = tree
                    .iter()
                    .filter(|n| filter.is_empty() || contains(n, &filter))
                    .collect();
                let shown = if self.show_all || !filter.is_empty() {
                    roots.len()
                } else {
                    roots.len().min(ROOTS_SHOWN)
                };
                for node in &roots[..shown] {
                    node_ui(node, &filter, applied, &mut chosen, &mut Vec::new(), ui);
                }
                if shown < roots.len()
                    && ui
                        .small_button(format!("Show all {}", roots.len()))
                        .clicked()
                {
                    self.show_all = true;
                }
            });
        chosen
    }
}

/// Distinct tags in the tree.
fn count_tags(tree: &[TagNode]) -> usize {
    fn walk<'a>(n: &'a TagNode, seen: &mut std::collections::BTreeSet<&'a str>) {
        seen.insert(&n.tag);
        n.children.iter().for_each(|c| walk(c, seen));
    }
    let mut seen = std::collections::BTreeSet::new();
    tree.iter().for_each(|n| walk(n, &mut seen));
    seen.len()
}

/// Whether the node or a tag below it contains `filter`.
fn contains(n: &TagNode, filter: &str) -> bool {
    n.tag.to_lowercase().contains(filter) || n.children.iter().any(|c| contains(c, filter))
}

fn node_ui(
    node: &TagNode,
    filter: &str,
    applied: &str,
    chosen: &mut Option<String>,
    path: &mut Vec<String>,
    ui: &mut Ui,
) {
    let query = tag_query(&node.tag);
    let selected = applied == query;
    let text = format!("{} ({})", node.tag, node.photos);
    path.push(node.tag.clone());
    let kids: Vec<&TagNode> = node
        .children
        .iter()
        .filter(|c| filter.is_empty() || contains(c, filter))
        .collect();
    if kids.is_empty() {
        ui.horizontal(|ui| {
            // Leaves line up with the labels of nodes that have an open/close arrow.
            ui.add_space(ui.spacing().indent);
            if ui.selectable_label(selected, text).clicked() {
                *chosen = Some(query.clone());
            }
        });
    } else {
        let id = ui.make_persistent_id(("tag", path.join("/")));
        let open_by_filter = !filter.is_empty();
        let mut state =
            egui::collapsing_header::CollapsingState::load_with_default_open(ui.ctx(), id, false);
        if open_by_filter {
            state.set_open(true);
        }
        state
            .show_header(ui, |ui| {
                if ui.selectable_label(selected, text).clicked() {
                    *chosen = Some(query.clone());
                }
            })
            .body(|ui| {
                for kid in kids {
                    node_ui(kid, filter, applied, chosen, path, ui);
                }
            });
    }
    path.pop();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::query::Query;

    #[test]
    fn a_tag_query_parses_back_to_that_tag() {
        for tag in ["dog", "sea anemone", "t-shirt", "café"] {
            let q = Query::parse(&tag_query(tag)).unwrap();
            let words = crate::store::query::fold_words(tag);
            assert_eq!(
                q.expr,
                Some(crate::store::query::Expr::Term(
                    crate::store::query::Term::Tag(words)
                )),
                "{tag}"
            );
        }
    }

    #[test]
    fn the_filter_keeps_a_category_when_a_tag_below_it_matches() {
        let leaf = TagNode {
            tag: "dog".into(),
            photos: 3,
            children: vec![],
        };
        let root = TagNode {
            tag: "animal".into(),
            photos: 5,
            children: vec![leaf],
        };
        assert!(contains(&root, "do"));
        assert!(!contains(&root, "cat"));
        assert_eq!(count_tags(&[root.clone(), root]), 2);
    }
}
