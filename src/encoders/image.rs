//! The choice of frozen image encoder, and the one type the rest of the crate calls.

use std::fmt;

use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::efficientnet::EfficientNetLite0;
use super::vgg16::Vgg16;
use crate::error::Result;
use crate::weights::WeightFile;

/// Frozen CNN that turns a photo into the 7 x 7 region map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(clap::ValueEnum))]
pub enum ImageEncoderKind {
    /// VGG16 pool5, 512 channels: the encoder of the original method.
    #[serde(rename = "vgg16")]
    #[cfg_attr(not(target_arch = "wasm32"), value(name = "vgg16"))]
    Vgg16,
    /// EfficientNet-Lite0 head map, 1280 channels: about 40 times fewer operations.
    #[serde(rename = "efficientnet-lite0")]
    #[cfg_attr(not(target_arch = "wasm32"), value(name = "efficientnet-lite0"))]
    EfficientNetLite0,
}

impl ImageEncoderKind {
    /// Returns the name used on the command line, in configs and in file names.
    pub fn name(self) -> &'static str {
        match self {
            Self::Vgg16 => "vgg16",
            Self::EfficientNetLite0 => "efficientnet-lite0",
        }
    }

    /// File name of the frozen weights inside the weights folder.
    pub fn weights_file(self) -> &'static str {
        match self {
            Self::Vgg16 => "vgg16.safetensors",
            Self::EfficientNetLite0 => "efficientnet_lite0.safetensors",
        }
    }

    /// Channels `m` of the region map.
    pub fn channels(self) -> usize {
        match self {
            Self::Vgg16 => Vgg16::CHANNELS,
            Self::EfficientNetLite0 => EfficientNetLite0::CHANNELS,
        }
    }
}

impl fmt::Display for ImageEncoderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A loaded, frozen image encoder.
#[derive(Debug)]
pub enum ImageEncoder {
    /// VGG16 conv base.
    Vgg16(Vgg16),
    /// EfficientNet-Lite0 feature extractor.
    EfficientNetLite0(EfficientNetLite0),
}

impl ImageEncoder {
    /// Loads the encoder of `kind` from its weights file, checking every tensor.
    pub fn load(kind: ImageEncoderKind, mut weights: WeightFile, device: &Device) -> Result<Self> {
        let encoder = match kind {
            ImageEncoderKind::Vgg16 => Self::Vgg16(Vgg16::load(&mut weights, device)?),
            ImageEncoderKind::EfficientNetLite0 => {
                Self::EfficientNetLite0(EfficientNetLite0::load(&mut weights, device)?)
            }
        };
        weights.finish()?;
        Ok(encoder)
    }

    /// Returns which encoder this is.
    pub fn kind(&self) -> ImageEncoderKind {
        match self {
            Self::Vgg16(_) => ImageEncoderKind::Vgg16,
            Self::EfficientNetLite0(_) => ImageEncoderKind::EfficientNetLite0,
        }
    }

    /// Encodes photos into region maps.
    ///
    /// # Shapes
    /// - `pixels`: `[batch, 3, 224, 224]`, RGB on the 0..255 scale
    /// - output: `[batch, m, 7, 7]`
    pub fn forward(&self, pixels: Tensor<4>) -> Tensor<4> {
        match self {
            Self::Vgg16(model) => model.forward(pixels),
            Self::EfficientNetLite0(model) => model.forward(pixels),
        }
    }
}
