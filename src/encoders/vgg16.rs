//! VGG16 convolutional base (Simonyan and Zisserman, "Very Deep Convolutional Networks for
//! Large-Scale Image Recognition", ICLR 2015), cut after pool5: 13 3x3 convolutions with ReLU
//! and five 2x2 max pools, 512 x 7 x 7 for a 224 x 224 photo. Frozen: ImageNet weights from
//! the Keras release, with Caffe-style input (BGR, per-channel mean subtracted, 0..255 scale).

use burn::config::Config;
use burn::module::Module;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

use crate::error::Result;
use crate::weights::WeightFile;

/// Caffe / Keras ImageNet channel means in BGR order, on the 0..255 scale
/// (`keras.applications.imagenet_utils.preprocess_input`, mode "caffe").
pub const BGR_MEAN: [f32; 3] = [103.939, 116.779, 123.68];

/// Output channels of the conv layers in each of the five blocks.
const BLOCKS: [(usize, usize); 5] = [(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)];

/// Configuration of the VGG16 conv base.
#[derive(Config, Debug)]
pub struct Vgg16Config {
    /// Channels of the photo tensor; 3 for RGB.
    #[config(default = 3)]
    pub input_channels: usize,
}

/// The VGG16 conv base, frozen.
#[derive(Module, Debug)]
pub struct Vgg16 {
    /// The 13 conv layers in order, `block{b}_conv{c}` in the weights file.
    convs: Vec<Conv2d>,
    pool: MaxPool2d,
}

impl Vgg16Config {
    /// Builds the network with placeholder weights; use [`Vgg16::load`] for the real ones.
    pub fn init(&self, device: &Device) -> Vgg16 {
        let mut convs = Vec::new();
        let mut channels = self.input_channels;
        for (width, count) in BLOCKS {
            for _ in 0..count {
                let conv = Conv2dConfig::new([channels, width], [3, 3])
                    .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                    .init(device);
                convs.push(conv);
                channels = width;
            }
        }
        let pool = MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init();
        Vgg16 { convs, pool }
    }
}

impl Vgg16 {
    /// Number of channels of the output map.
    pub const CHANNELS: usize = 512;

    /// Loads the conv base from a weights file with tensors `block{b}_conv{c}.weight` (OIHW,
    /// input channels in BGR order) and `.bias`.
    pub fn load(weights: &mut WeightFile, device: &Device) -> Result<Self> {
        let mut model = Vgg16Config::new().init(device);
        let mut index = 0;
        let mut convs = Vec::with_capacity(model.convs.len());
        for (block, (_, count)) in BLOCKS.iter().enumerate() {
            for conv in 0..*count {
                let layer = model.convs[index].clone();
                convs.push(weights.conv2d(
                    &format!("block{}_conv{}", block + 1, conv + 1),
                    layer,
                    device,
                )?);
                index += 1;
            }
        }
        model.convs = convs;
        Ok(model.no_grad())
    }

    /// Encodes photos into the pool5 feature map.
    ///
    /// # Shapes
    /// - `pixels`: `[batch, 3, 224, 224]`, RGB on the 0..255 scale
    /// - output: `[batch, 512, 7, 7]`
    pub fn forward(&self, pixels: Tensor<4>) -> Tensor<4> {
        let device = pixels.device();

        // Caffe preprocessing: RGB to BGR, then subtract the ImageNet mean.
        let mean = Tensor::<1>::from_floats(BGR_MEAN, &device).reshape([1, 3, 1, 1]);
        let mut x = pixels.flip([1]) - mean;

        // Five blocks of 3x3 conv + ReLU, each closed by a 2x2 max pool (224 -> 7).
        let mut index = 0;
        for (_, count) in BLOCKS {
            for _ in 0..count {
                x = relu(self.convs[index].forward(x));
                index += 1;
            }
            x = self.pool.forward(x);
        }
        x
    }
}
