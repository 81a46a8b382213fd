//! Building blocks shared by the hand-written ImageNet networks: conv + batch norm (+ ReLU6),
//! and the inverted-residual (MBConv) block used by both MobileNetV2 and EfficientNet-Lite.
//! Parameters start as zeros and are always overwritten from a weight file; a tensor the file
//! lacks is reported by the loader, so no initial value is ever used. Main types:
//! [`ConvBnAct`], [`InvertedResidual`].

use burn::module::Initializer;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu6;

/// How convolutions pad: PyTorch-style symmetric `k/2`, or TensorFlow "SAME" (asymmetric on
/// stride 2: the extra pixel goes right/bottom).
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum Padding {
    Torch,
    TfSame,
}

impl Padding {
    fn config(self, kernel: usize) -> PaddingConfig2d {
        match self {
            Padding::Torch => {
                let p = kernel / 2;
                PaddingConfig2d::Explicit(p, p, p, p)
            }
            Padding::TfSame => PaddingConfig2d::Same,
        }
    }
}

/// Convolution (no bias) → batch norm → optional ReLU6.
#[derive(Module, Debug)]
pub struct ConvBnAct {
    pub conv: Conv2d,
    pub bn: BatchNorm,
    /// Apply ReLU6 after the norm.
    pub relu6: bool,
}

/// Shape of a [`ConvBnAct`].
#[derive(Config, Debug)]
pub struct ConvBnActConfig {
    pub channels_in: usize,
    pub channels_out: usize,
    pub kernel: usize,
    #[config(default = 1)]
    pub stride: usize,
    #[config(default = 1)]
    pub groups: usize,
    #[config(default = true)]
    pub relu6: bool,
    #[config(default = 1e-5)]
    pub bn_eps: f64,
    #[config(default = "Padding::Torch")]
    pub padding: Padding,
}

impl ConvBnActConfig {
    /// Builds the layer with zeroed parameters (to be loaded from a file).
    pub fn init(&self, device: &Device) -> ConvBnAct {
        ConvBnAct {
            conv: Conv2dConfig::new(
                [self.channels_in, self.channels_out],
                [self.kernel, self.kernel],
            )
            .with_stride([self.stride, self.stride])
            .with_groups(self.groups)
            .with_padding(self.padding.config(self.kernel))
            .with_bias(false)
            .with_initializer(Initializer::Zeros)
            .init(device),
            bn: BatchNormConfig::new(self.channels_out)
                .with_epsilon(self.bn_eps)
                .init(device),
            relu6: self.relu6,
        }
    }
}

impl ConvBnAct {
    /// `[N, C_in, H, W]` → `[N, C_out, H/stride, W/stride]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = self.bn.forward(self.conv.forward(x));
        if self.relu6 { relu6(x) } else { x }
    }
}

/// MBConv: optional 1×1 expansion (ReLU6) → k×k depthwise (ReLU6) → 1×1 linear projection,
/// with a residual connection when stride is 1 and channels are unchanged.
#[derive(Module, Debug)]
pub struct InvertedResidual {
    pub expand: Option<ConvBnAct>,
    pub depthwise: ConvBnAct,
    pub project: ConvBnAct,
    pub residual: bool,
}

/// Shape of an [`InvertedResidual`].
#[derive(Config, Debug)]
pub struct InvertedResidualConfig {
    pub channels_in: usize,
    pub channels_out: usize,
    pub expand_ratio: usize,
    pub kernel: usize,
    pub stride: usize,
    #[config(default = 1e-5)]
    pub bn_eps: f64,
    #[config(default = "Padding::Torch")]
    pub padding: Padding,
}

impl InvertedResidualConfig {
    /// Builds the block with zeroed parameters.
    pub fn init(&self, device: &Device) -> InvertedResidual {
        let hidden = self.channels_in * self.expand_ratio;
        let conv = |cin, cout, k, stride, groups, relu6| {
            ConvBnActConfig::new(cin, cout, k)
                .with_stride(stride)
                .with_groups(groups)
                .with_relu6(relu6)
                .with_bn_eps(self.bn_eps)
                .with_padding(self.padding)
                .init(device)
        };
        InvertedResidual {
            expand: (self.expand_ratio != 1).then(|| conv(self.channels_in, hidden, 1, 1, 1, true)),
            depthwise: conv(hidden, hidden, self.kernel, self.stride, hidden, true),
            project: conv(hidden, self.channels_out, 1, 1, 1, false),
            residual: self.stride == 1 && self.channels_in == self.channels_out,
        }
    }
}

impl InvertedResidual {
    /// `[N, C_in, H, W]` → `[N, C_out, H/stride, W/stride]`.
    pub fn forward(&self, input: Tensor<4>) -> Tensor<4> {
        let x = match &self.expand {
            Some(e) => e.forward(input.clone()), // [N, C_in*t, H, W]
            None => input.clone(),
        };
        let x = self.depthwise.forward(x); // [N, C_in*t, H/s, W/s]
        let x = self.project.forward(x); // [N, C_out, H/s, W/s]
        if self.residual { x + input } else { x }
    }
}

/// Global average pool: `[N, C, H, W]` → `[N, C]`.
pub fn global_avg_pool(x: Tensor<4>) -> Tensor<2> {
    let [n, c, _, _] = x.dims();
    x.mean_dim(3).mean_dim(2).reshape([n, c])
}
