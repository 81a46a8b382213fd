//! A bounded cache of GPU textures for thumbnails: the grid may page through 100,000 photos,
//! but only the most recently shown few hundred keep a texture; the least recently used go
//! first when the cache is full.

use std::collections::HashMap;

use egui::{ColorImage, TextureHandle, TextureOptions};

use crate::engine::DecodedImage;

/// Turns a decoded image into an egui image.
pub fn color_image(img: &DecodedImage) -> ColorImage {
    ColorImage::from_rgba_unmultiplied([img.width as usize, img.height as usize], &img.rgba)
}

/// Textures by photo id, with a capacity.
pub struct TextureCache {
    capacity: usize,
    entries: HashMap<i64, (TextureHandle, u64)>,
    /// Incremented each frame; entries remember when they were last drawn.
    frame: u64,
}

impl TextureCache {
    /// A cache holding at most `capacity` textures.
    pub fn new(capacity: usize) -> Self {
        TextureCache {
            capacity: capacity.max(1),
            entries: HashMap::new(),
            frame: 0,
        }
    }

    /// Marks the start of a frame.
    pub fn next_frame(&mut self) {
        self.frame += 1;
    }

    /// The texture of `id`, marking it used this frame.
    pub fn get(&mut self, id: i64) -> Option<&TextureHandle> {
        let frame = self.frame;
        self.entries.get_mut(&id).map(|(t, used)| {
            *used = frame;
            &*t
        })
    }

    /// Whether a texture for `id` is cached.
    pub fn contains(&self, id: i64) -> bool {
        self.entries.contains_key(&id)
    }

    /// Uploads an image for `id`, evicting the least recently used when full.
    pub fn insert(&mut self, ctx: &egui::Context, id: i64, img: &DecodedImage) {
        if self.entries.len() >= self.capacity && !self.entries.contains_key(&id) {
            self.evict(self.entries.len() + 1 - self.capacity);
        }
        let tex = ctx.load_texture(
            format!("thumb-{id}"),
            color_image(img),
            TextureOptions::LINEAR,
        );
        self.entries.insert(id, (tex, self.frame));
    }

    fn evict(&mut self, n: usize) {
        let mut by_age: Vec<(u64, i64)> =
            self.entries.iter().map(|(id, (_, u))| (*u, *id)).collect();
        by_age.sort_unstable();
        for (_, id) in by_age.into_iter().take(n) {
            self.entries.remove(&id);
        }
    }

    /// Forgets one photo's texture (its thumbnail changed).
    pub fn remove(&mut self, id: i64) {
        self.entries.remove(&id);
    }

    /// Number of textures held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }
}
