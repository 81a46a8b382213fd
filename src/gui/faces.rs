//! The faces on the photo detail: each stored face's box drawn on the image with the person's
//! name (or "Unnamed", or "?" when in no group), a right-click menu on the box, and a row per
//! face under the image with the same actions: "Not <name>" (the face leaves that person for
//! good, [`Command::RejectFace`]) and "This is…" a named person ([`Command::ConfirmFace`]).

use egui::{Color32, FontId, Rect, Sense, Stroke, StrokeKind, Ui, vec2};

use crate::engine::Command;
use crate::people::service::PhotoFace;

const NAMED: Color32 = Color32::from_rgb(80, 200, 255);
const UNNAMED: Color32 = Color32::from_rgb(170, 170, 200);

/// What a face is called on the photo.
pub fn face_caption(f: &PhotoFace) -> String {
    match (&f.name, f.person) {
        (Some(n), _) => n.clone(),
        (None, Some(_)) => "Unnamed".to_string(),
        (None, None) => "?".to_string(),
    }
}

/// Draws the faces' boxes on the image at `rect` and gives each a right-click menu.
pub fn face_boxes_ui(
    faces: &[PhotoFace],
    named: &[(i64, String)],
    rect: Rect,
    out: &mut Vec<Command>,
    ui: &mut Ui,
) {
    let painter = ui.painter_at(rect);
    for f in faces {
        let [x, y, w, h] = f.bbox;
        let b = Rect::from_min_size(
            rect.min + vec2(x * rect.width(), y * rect.height()),
            vec2(w * rect.width(), h * rect.height()),
        );
        let color = if f.name.is_some() { NAMED } else { UNNAMED };
        painter.rect_stroke(b, 2.0, Stroke::new(2.0, color), StrokeKind::Outside);
        let caption = face_caption(f);
        let galley = painter.layout_no_wrap(caption, FontId::proportional(12.0), Color32::BLACK);
        let at = b.left_bottom() + vec2(0.0, 2.0);
        painter.rect_filled(
            Rect::from_min_size(at, galley.size() + vec2(6.0, 2.0)),
            2.0,
            color,
        );
        painter.galley(at + vec2(3.0, 1.0), galley, Color32::BLACK);
        let resp = ui
            .interact(b, ui.scope_id().with(("face", f.face_id)), Sense::click())
            .on_hover_text(format!("{}: right-click for actions", face_caption(f)));
        resp.context_menu(|ui| face_actions_ui(f, named, out, ui));
    }
}

/// The faces of the photo as rows, each with its actions.
pub fn faces_list_ui(
    faces: &[PhotoFace],
    named: &[(i64, String)],
    out: &mut Vec<Command>,
    ui: &mut Ui,
) {
    if faces.is_empty() {
        return;
    }
    ui.strong("People");
    for (i, f) in faces.iter().enumerate() {
        ui.horizontal(|ui| {
            let who = face_caption(f);
            let tip = if f.confirmed {
                "you confirmed it"
            } else if f.person.is_some() {
                "grouped automatically"
            } else {
                "in no group yet"
            };
            ui.label(format!("Face {}: {who}", i + 1))
                .on_hover_text(tip);
            face_actions_ui(f, named, out, ui);
        });
    }
    ui.separator();
}

/// "Not <name>" and "This is…" for one face.
fn face_actions_ui(f: &PhotoFace, named: &[(i64, String)], out: &mut Vec<Command>, ui: &mut Ui) {
    if let Some(person) = f.person {
        let not = format!("Not {}", f.name.as_deref().unwrap_or("this person"));
        if ui
            .button(not)
            .on_hover_text("This face leaves the group and never goes back to it.")
            .clicked()
        {
            out.push(Command::RejectFace {
                face: f.face_id,
                person,
            });
            ui.close();
        }
    }
    let others: Vec<&(i64, String)> = named
        .iter()
        .filter(|(id, _)| Some(*id) != f.person || !f.confirmed)
        .collect();
    if others.is_empty() {
        return;
    }
    ui.menu_button("This is…", |ui| {
        for (id, name) in others {
            if ui.button(name.as_str()).clicked() {
                out.push(Command::ConfirmFace {
                    face: f.face_id,
                    person: *id,
                });
                ui.close();
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faces_are_called_by_their_persons_name() {
        let mut f = PhotoFace {
            face_id: 1,
            bbox: [0.0; 4],
            person: None,
            name: None,
            confirmed: false,
        };
        assert_eq!(face_caption(&f), "?");
        f.person = Some(3);
        assert_eq!(face_caption(&f), "Unnamed");
        f.name = Some("Alice".into());
        assert_eq!(face_caption(&f), "Alice");
    }
}
