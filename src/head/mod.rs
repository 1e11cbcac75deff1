//! The trainable grounding head: batch norms, the attention MLP and the concept decoder.
//! At inference only the attention is used; the decoder and the loss exist for training.

pub mod attention;
pub mod decoder;
pub mod loss;

use std::collections::HashMap;

use burn::config::Config;
use burn::module::{Module, RunningState};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

pub use attention::{Attention, AttentionConfig, AttentionOutput};
pub use decoder::{ConceptDecoder, ConceptDecoderConfig, ConceptLogits};
pub use loss::{ConceptLoss, LossKind};

use crate::encoders::ImageEncoderKind;
use crate::error::{Error, Result};
use crate::weights::{TensorWriter, WeightFile};

/// Tag of the JSON file saved beside head weights.
pub const HEAD_FORMAT: &str = "semground-head/1";

/// Configuration of the whole head; saved as JSON beside its weights.
#[derive(Config, Debug)]
pub struct HeadConfig {
    /// The attention module.
    pub attention: AttentionConfig,
    /// The concept decoder.
    pub decoder: ConceptDecoderConfig,
}

impl HeadConfig {
    /// Builds the method's head configuration for an encoder pair and a vocabulary size.
    pub fn for_encoders(image_channels: usize, phrase_dim: usize, concepts: usize) -> Self {
        Self::new(
            AttentionConfig::new(image_channels, phrase_dim),
            ConceptDecoderConfig::new(image_channels, concepts),
        )
    }

    /// Checks the configuration, with a message naming the bad field.
    pub fn validate(&self) -> Result<()> {
        self.attention.validate()?;
        let decoder = &self.decoder;
        if decoder.image_channels != self.attention.image_channels {
            return Err(Error::Config {
                name: "decoder.image_channels".into(),
                detail: format!(
                    "{} differs from attention.image_channels {}",
                    decoder.image_channels, self.attention.image_channels
                ),
            });
        }
        if decoder.concepts == 0 || decoder.reduced_channels == 0 || decoder.regions == 0 {
            return Err(Error::Config {
                name: "decoder".into(),
                detail: "concepts, reduced_channels and regions must be positive".into(),
            });
        }
        Ok(())
    }

    /// Builds the head with freshly initialised weights.
    ///
    /// # Panics
    /// Panics on an invalid configuration; call [`HeadConfig::validate`] first on
    /// configurations read from files.
    pub fn init(&self, device: &Device) -> GroundingHead {
        GroundingHead {
            attention: self.attention.init(device),
            decoder: self.decoder.init(device),
        }
    }
}

/// The trainable head.
#[derive(Module, Debug)]
pub struct GroundingHead {
    /// Attention over regions, the part used at inference.
    pub attention: Attention,
    /// Concept decoder, used in training.
    pub decoder: ConceptDecoder,
}

/// Parts of the head that a weights file contains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HeadParts {
    /// Attention and concept decoder, in f32: what `semground train` writes.
    #[default]
    Full,
    /// Only the attention, in f16: all that inference needs, as shipped in `weights/`.
    Attention,
}

/// Description of a head, stored as JSON beside its weights.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HeadFile {
    /// Always [`HEAD_FORMAT`].
    pub format: String,
    /// The image encoder the head was trained on.
    pub image_encoder: ImageEncoderKind,
    /// Architecture of the head.
    pub config: HeadConfig,
    /// The concept vocabulary, in decoder output order; empty for an untrained head.
    #[serde(default)]
    pub concepts: Vec<String>,
    /// Whether the weights come from training (false for random initialisation).
    pub trained: bool,
    /// The parts the weights file holds; files written before this field hold the full head.
    #[serde(default)]
    pub parts: HeadParts,
    /// Free-form description of the training run (data, settings, time).
    #[serde(default)]
    pub training: serde_json::Value,
}

impl GroundingHead {
    /// Computes the attention heatmaps of phrases over their photos' maps.
    ///
    /// # Shapes
    /// - `image`: `[batch, m, 7, 7]`
    /// - `phrase`: `[batch, l]`
    /// - output: `[batch, 49]`, rows summing to 1
    pub fn heatmaps(&self, image: Tensor<4>, phrase: Tensor<2>) -> Tensor<2> {
        self.attention.forward(image, phrase).weights
    }

    /// Runs the head on concept batches: attention for every pair, then both decoder branches.
    ///
    /// # Shapes
    /// - `image`: `[batches, k, m, 7, 7]`
    /// - `phrase`: `[batches, k, l]`
    /// - output: attention `[batches, k, 49]` and the concept logits
    pub fn forward(&self, image: Tensor<5>, phrase: Tensor<3>) -> (Tensor<3>, ConceptLogits) {
        let [batches, k, channels, height, width] = image.dims();
        let [_, _, phrase_dim] = phrase.dims();

        // Attention per pair: [batches, k, ...] -> [batches * k, ...].
        let output = self.attention.forward(
            image.reshape([batches * k, channels, height, width]),
            phrase.reshape([batches * k, phrase_dim]),
        );
        let attention = output.weights.reshape([batches, k, height * width]);

        // The decoder reads the normalised maps the attention saw.
        let normalised = output.image.reshape([batches, k, channels, height, width]);
        let logits = self.decoder.forward(normalised, attention.clone());
        (attention, logits)
    }

    /// Serialises the weights in the names that [`GroundingHead::load`] reads.
    pub fn to_safetensors(&self) -> Result<Vec<u8>> {
        let mut writer = TensorWriter::default();
        write_attention(&mut writer, &self.attention)?;
        let decoder = &self.decoder;
        writer.conv2d("decoder.independent_reduce", &decoder.independent_reduce)?;
        writer.linear(
            "decoder.independent_classifier",
            &decoder.independent_classifier,
        )?;
        writer.conv2d("decoder.common_reduce", &decoder.common_reduce)?;
        writer.linear("decoder.common_classifier", &decoder.common_classifier)?;
        writer.to_bytes(HashMap::from([(
            "format".to_string(),
            HEAD_FORMAT.to_string(),
        )]))
    }

    /// Replaces the batch norms' running statistics with those stored in `weights` (a file
    /// written by [`GroundingHead::to_safetensors`]). burn's module records restore the
    /// parameters but not this running state, so checkpoints carry it separately.
    pub fn restore_running_stats(
        mut self,
        weights: &mut WeightFile,
        device: &Device,
    ) -> Result<Self> {
        for (prefix, norm) in [
            ("attention.image_norm", &mut self.attention.image_norm),
            ("attention.phrase_norm", &mut self.attention.phrase_norm),
        ] {
            let shape = norm.running_mean.value().dims();
            norm.running_mean = RunningState::new(weights.tensor(
                &format!("{prefix}.running_mean"),
                shape,
                device,
            )?);
            norm.running_var = RunningState::new(weights.tensor(
                &format!("{prefix}.running_var"),
                shape,
                device,
            )?);
        }
        Ok(self)
    }

    /// Serialises only the attention, in f16, in the names that [`load_attention`] reads:
    /// the file shipped for inference, 1 to 2 MB where the full head with 2000 concepts has
    /// about 50 MB.
    pub fn attention_to_safetensors(&self) -> Result<Vec<u8>> {
        let mut writer = TensorWriter::half();
        write_attention(&mut writer, &self.attention)?;
        writer.to_bytes(HashMap::from([(
            "format".to_string(),
            HEAD_FORMAT.to_string(),
        )]))
    }

    /// Loads a head of architecture `config` from `weights`, checking every tensor.
    pub fn load(config: &HeadConfig, mut weights: WeightFile, device: &Device) -> Result<Self> {
        config.validate()?;
        let head = config.init(device);
        let attention = read_attention(head.attention, &mut weights, device)?;

        let mut decoder = head.decoder;
        decoder.independent_reduce = weights.conv2d(
            "decoder.independent_reduce",
            decoder.independent_reduce,
            device,
        )?;
        decoder.independent_classifier = weights.linear(
            "decoder.independent_classifier",
            decoder.independent_classifier,
            device,
        )?;
        decoder.common_reduce =
            weights.conv2d("decoder.common_reduce", decoder.common_reduce, device)?;
        decoder.common_classifier = weights.linear(
            "decoder.common_classifier",
            decoder.common_classifier,
            device,
        )?;
        weights.finish()?;
        Ok(GroundingHead { attention, decoder })
    }
}

/// Writes the attention's tensors; the only place that names them for writing.
fn write_attention(writer: &mut TensorWriter, attention: &Attention) -> Result<()> {
    writer.batch_norm("attention.image_norm", &attention.image_norm)?;
    writer.batch_norm("attention.phrase_norm", &attention.phrase_norm)?;
    for (index, conv) in attention.convs.iter().enumerate() {
        writer.conv2d(&format!("attention.convs.{index}"), conv)?;
    }
    Ok(())
}

/// Fills `attention` from the `attention.*` tensors of `weights`, checking each shape.
fn read_attention(
    mut attention: Attention,
    weights: &mut WeightFile,
    device: &Device,
) -> Result<Attention> {
    attention.image_norm =
        weights.batch_norm("attention.image_norm", attention.image_norm, device)?;
    attention.phrase_norm =
        weights.batch_norm("attention.phrase_norm", attention.phrase_norm, device)?;
    let mut convs = Vec::with_capacity(attention.convs.len());
    for (index, conv) in attention.convs.into_iter().enumerate() {
        convs.push(weights.conv2d(&format!("attention.convs.{index}"), conv, device)?);
    }
    attention.convs = convs;
    Ok(attention)
}

/// Loads the attention described by `head_file` from `weights`, whichever parts the file
/// holds: a full head's decoder tensors are read, checked and dropped.
pub fn load_attention(
    head_file: &HeadFile,
    mut weights: WeightFile,
    device: &Device,
) -> Result<Attention> {
    match head_file.parts {
        HeadParts::Full => Ok(GroundingHead::load(&head_file.config, weights, device)?.attention),
        HeadParts::Attention => {
            head_file.config.attention.validate()?;
            let attention = head_file.config.attention.init(device);
            let attention = read_attention(attention, &mut weights, device)?;
            weights.finish()?;
            Ok(attention)
        }
    }
}
