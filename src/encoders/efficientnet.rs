//! EfficientNet-Lite0 (Tan and Le, "EfficientNet", ICML 2019; the Lite variants of the
//! TensorFlow model garden: ReLU6, no squeeze-and-excitation, fixed stem and head), cut after
//! the 1x1 head convolution: 1280 x 7 x 7 for a 224 x 224 photo. Frozen, ImageNet weights.
//!
//! The weights come from TensorFlow, so every convolution uses TensorFlow's SAME padding,
//! which pads more at the bottom and right when the total padding is odd (stride 2), and
//! batch norms use eps 1e-3. Input is RGB scaled as (x - 127) / 128.

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::tensor::{Device, Tensor};

use crate::error::Result;
use crate::weights::WeightFile;

/// Batch-norm epsilon of the TensorFlow release.
const BN_EPS: f64 = 1e-3;

/// One stage of mobile inverted bottleneck blocks: repeats, kernel, first stride, expansion
/// ratio, input and output channels (EfficientNet-B0 with width and depth multipliers 1.0).
const STAGES: [(usize, usize, usize, usize, usize, usize); 7] = [
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
];
const STEM_CHANNELS: usize = 32;
const HEAD_CHANNELS: usize = 1280;

/// Configuration of the EfficientNet-Lite0 feature extractor.
#[derive(Config, Debug)]
pub struct EfficientNetLite0Config {
    /// Channels of the photo tensor; 3 for RGB.
    #[config(default = 3)]
    pub input_channels: usize,
}

/// A mobile inverted bottleneck block without squeeze-and-excitation.
#[derive(Module, Debug)]
struct MbConvBlock {
    /// 1x1 expansion and its batch norm; absent when the expansion ratio is 1.
    expand: Option<(Conv2d, BatchNorm)>,
    depthwise: Conv2d,
    bn_depthwise: BatchNorm,
    project: Conv2d,
    bn_project: BatchNorm,
    /// Identity shortcut, used when the block keeps both resolution and width.
    residual: bool,
}

/// EfficientNet-Lite0 up to its last 7 x 7 map, frozen.
#[derive(Module, Debug)]
pub struct EfficientNetLite0 {
    stem: Conv2d,
    bn_stem: BatchNorm,
    blocks: Vec<MbConvBlock>,
    head: Conv2d,
    bn_head: BatchNorm,
}

fn conv(
    channels: [usize; 2],
    kernel: usize,
    stride: usize,
    groups: usize,
    device: &Device,
) -> Conv2d {
    Conv2dConfig::new(channels, [kernel, kernel])
        .with_stride([stride, stride])
        .with_groups(groups)
        .with_padding(PaddingConfig2d::Same)
        .with_bias(false)
        .init(device)
}

fn batch_norm(channels: usize, device: &Device) -> BatchNorm {
    BatchNormConfig::new(channels)
        .with_epsilon(BN_EPS)
        .init(device)
}

fn relu6(x: Tensor<4>) -> Tensor<4> {
    x.clamp(0.0, 6.0)
}

impl EfficientNetLite0Config {
    /// Builds the network with placeholder weights; use [`EfficientNetLite0::load`] for the real ones.
    pub fn init(&self, device: &Device) -> EfficientNetLite0 {
        let mut blocks = Vec::new();
        for (repeats, kernel, first_stride, expansion, input, output) in STAGES {
            for repeat in 0..repeats {
                let (input, stride) = if repeat == 0 {
                    (input, first_stride)
                } else {
                    (output, 1)
                };
                let hidden = input * expansion;
                let expand = (expansion != 1).then(|| {
                    (
                        conv([input, hidden], 1, 1, 1, device),
                        batch_norm(hidden, device),
                    )
                });
                blocks.push(MbConvBlock {
                    expand,
                    depthwise: conv([hidden, hidden], kernel, stride, hidden, device),
                    bn_depthwise: batch_norm(hidden, device),
                    project: conv([hidden, output], 1, 1, 1, device),
                    bn_project: batch_norm(output, device),
                    residual: stride == 1 && input == output,
                });
            }
        }
        let last = STAGES[STAGES.len() - 1].5;
        EfficientNetLite0 {
            stem: conv([self.input_channels, STEM_CHANNELS], 3, 2, 1, device),
            bn_stem: batch_norm(STEM_CHANNELS, device),
            blocks,
            head: conv([last, HEAD_CHANNELS], 1, 1, 1, device),
            bn_head: batch_norm(HEAD_CHANNELS, device),
        }
    }
}

impl MbConvBlock {
    fn forward(&self, input: Tensor<4>) -> Tensor<4> {
        let mut x = input.clone();
        if let Some((conv, bn)) = &self.expand {
            x = relu6(bn.forward(conv.forward(x)));
        }
        x = relu6(self.bn_depthwise.forward(self.depthwise.forward(x)));
        x = self.bn_project.forward(self.project.forward(x));
        if self.residual { x + input } else { x }
    }
}

impl EfficientNetLite0 {
    /// Number of channels of the output map.
    pub const CHANNELS: usize = HEAD_CHANNELS;

    /// Loads the network from a weights file in the names of the PyTorch port
    /// (`_conv_stem`, `_bn0`, `_blocks.N._expand_conv`, ..., `_conv_head`, `_bn1`).
    pub fn load(weights: &mut WeightFile, device: &Device) -> Result<Self> {
        let model = EfficientNetLite0Config::new().init(device);
        let mut blocks = Vec::with_capacity(model.blocks.len());
        for (index, block) in model.blocks.into_iter().enumerate() {
            let prefix = format!("_blocks.{index}");
            let expand = match block.expand {
                Some((conv, bn)) => Some((
                    weights.conv2d(&format!("{prefix}._expand_conv"), conv, device)?,
                    weights.batch_norm(&format!("{prefix}._bn0"), bn, device)?,
                )),
                None => None,
            };
            blocks.push(MbConvBlock {
                expand,
                depthwise: weights.conv2d(
                    &format!("{prefix}._depthwise_conv"),
                    block.depthwise,
                    device,
                )?,
                bn_depthwise: weights.batch_norm(
                    &format!("{prefix}._bn1"),
                    block.bn_depthwise,
                    device,
                )?,
                project: weights.conv2d(
                    &format!("{prefix}._project_conv"),
                    block.project,
                    device,
                )?,
                bn_project: weights.batch_norm(
                    &format!("{prefix}._bn2"),
                    block.bn_project,
                    device,
                )?,
                residual: block.residual,
            });
        }
        let model = EfficientNetLite0 {
            stem: weights.conv2d("_conv_stem", model.stem, device)?,
            bn_stem: weights.batch_norm("_bn0", model.bn_stem, device)?,
            blocks,
            head: weights.conv2d("_conv_head", model.head, device)?,
            bn_head: weights.batch_norm("_bn1", model.bn_head, device)?,
        };
        Ok(model.no_grad())
    }

    /// Encodes photos into the last 7 x 7 feature map.
    ///
    /// # Shapes
    /// - `pixels`: `[batch, 3, 224, 224]`, RGB on the 0..255 scale
    /// - output: `[batch, 1280, 7, 7]`
    pub fn forward(&self, pixels: Tensor<4>) -> Tensor<4> {
        // Scale to about [-1, 1] as the TensorFlow release expects.
        let x = (pixels - 127.0) / 128.0;

        // Stem: 3x3 stride-2 conv (224 -> 112).
        let mut x = relu6(self.bn_stem.forward(self.stem.forward(x)));

        // Sixteen inverted bottleneck blocks (112 -> 7).
        for block in &self.blocks {
            x = block.forward(x);
        }

        // Head: 1x1 conv to 1280 channels.
        relu6(self.bn_head.forward(self.head.forward(x)))
    }
}
