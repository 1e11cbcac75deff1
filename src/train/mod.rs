//! The native trainer: learns the head from (photo, phrase) pairs alone by making each concept
//! batch name the noun its k pairs share. Frozen features come from the cache; an epoch runs
//! only the head, with burn's autodiff and Adam.

pub mod checkpoint;
pub mod run;

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::data::{ConceptBatch, ConceptSampler, ConceptSet, PairFormat, PhraseUnit};
use crate::encoders::ImageEncoderKind;
use crate::error::{Error, Result};
use crate::features::FeatureTable;
use crate::head::{
    ConceptLoss, GroundingHead, HEAD_FORMAT, HeadConfig, HeadFile, HeadParts, LossKind,
};
use crate::weights::WeightFile;

/// Everything that defines a training run; saved as `config.json` in the output folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// The pairs file (or Flickr30k Entities `Sentences/` folder).
    pub pairs: PathBuf,
    /// Its format.
    pub format: PairFormat,
    /// Folder the photo names of the pairs are relative to.
    pub images: PathBuf,
    /// Captions as they are, or their noun-phrase chunks.
    #[serde(default)]
    pub phrases: PhraseUnit,
    /// Frozen image encoder.
    pub image_encoder: ImageEncoderKind,
    /// Pairs per concept batch.
    pub k: usize,
    /// Decoder branches in the loss.
    pub loss: LossKind,
    /// Size of the concept vocabulary (most frequent nouns).
    pub concepts: usize,
    /// Number of passes over the pairs.
    pub epochs: usize,
    /// Adam learning rate.
    pub learning_rate: f64,
    /// Concept batches per optimisation step.
    pub batch_size: usize,
    /// Seed of the head's initialisation and of the sampler.
    pub seed: u64,
    /// Skip malformed annotation records instead of failing.
    pub skip_bad: bool,
}

/// Loss and accuracy of one epoch, one line of `log.jsonl`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EpochLog {
    /// Epoch number, from 1.
    pub epoch: usize,
    /// Mean cross-entropy of the common branch.
    pub loss_common: f64,
    /// Mean cross-entropy of the independent branch.
    pub loss_independent: f64,
    /// Mean of the minimised loss.
    pub loss_total: f64,
    /// Share of concept batches whose common prediction is their concept, in percent.
    pub concept_accuracy: f64,
    /// Wall time of the epoch in seconds.
    pub seconds: f64,
}

/// Features and concepts, ready for epochs.
pub struct TrainingData {
    /// Vocabulary and kept pairs.
    pub set: ConceptSet,
    /// Region maps by photo name.
    pub photos: FeatureTable,
    /// Embeddings by phrase.
    pub phrases: FeatureTable,
}

/// Builds the image and phrase tensors of concept batches.
///
/// # Shapes
/// - image: `[batches, k, m, 7, 7]`
/// - phrase: `[batches, k, l]`
/// - targets: `[batches]`
pub fn batch_tensors(
    data: &TrainingData,
    batches: &[ConceptBatch],
    device: &Device,
) -> (Tensor<5>, Tensor<3>, Tensor<1, Int>) {
    let k = batches[0].pairs.len();
    let count = batches.len();
    let (photo_dim, phrase_dim) = (data.photos.dim, data.phrases.dim);
    let mut image = Vec::with_capacity(count * k * photo_dim);
    let mut phrase = Vec::with_capacity(count * k * phrase_dim);
    for batch in batches {
        for &pair in &batch.pairs {
            let pair = &data.set.pairs[pair];
            image.extend_from_slice(
                data.photos
                    .get(&pair.image)
                    .expect("features of every kept photo"),
            );
            phrase.extend_from_slice(
                data.phrases
                    .get(&pair.phrase)
                    .expect("features of every kept phrase"),
            );
        }
    }
    let targets: Vec<i64> = batches.iter().map(|batch| batch.concept as i64).collect();
    let channels = photo_dim / 49;
    (
        Tensor::from_data(TensorData::new(image, [count, k, channels, 7, 7]), device),
        Tensor::from_data(TensorData::new(phrase, [count, k, phrase_dim]), device),
        Tensor::from_data(TensorData::new(targets, [count]), device),
    )
}

/// Reads a one-element tensor back. Device failures (a GPU out of memory, a lost device)
/// surface here, so they become an error instead of a panic.
fn scalar(tensor: Tensor<1>) -> Result<f64> {
    tensor
        .try_into_scalar::<f32>()
        .map(f64::from)
        .map_err(|error| {
            Error::Readback(format!(
                "{error}; on a GPU, try a smaller --batch-size or --device cpu"
            ))
        })
}

/// Loss terms and accuracy of one optimisation step, read back to the host.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepLog {
    /// Cross-entropy of the common branch, mean over concept batches.
    pub loss_common: f64,
    /// Cross-entropy of the independent branch, mean over pairs.
    pub loss_independent: f64,
    /// The minimised loss.
    pub loss_total: f64,
    /// Concept batches whose common prediction is their concept.
    pub correct: usize,
}

/// Runs one optimisation step on concept batches: forward, loss, backward and an Adam update
/// of the head. The loss terms are those before the update.
///
/// # Shapes
/// - `image`: `[batches, k, m, 7, 7]`
/// - `phrase`: `[batches, k, l]`
/// - `targets`: `[batches]`, concept indices
pub fn train_step(
    head: GroundingHead,
    optimizer: &mut ModuleOptimizer,
    learning_rate: f64,
    loss_kind: LossKind,
    (image, phrase, targets): (Tensor<5>, Tensor<3>, Tensor<1, Int>),
) -> Result<(GroundingHead, StepLog)> {
    let [batches] = targets.dims();
    let (_, logits) = head.forward(image, phrase);
    let loss = ConceptLoss::new(&logits, targets.clone(), loss_kind);

    let predicted = logits.common.detach().argmax(1).reshape([batches]);
    let log = StepLog {
        // A count below 2^24 is exact in f32.
        correct: scalar(predicted.equal(targets).float().sum())? as usize,
        loss_common: scalar(loss.common.detach())?,
        loss_independent: scalar(loss.independent.detach())?,
        loss_total: scalar(loss.total.clone().detach())?,
    };

    let gradients = GradientsParams::from_grads(loss.total.backward(), &head);
    Ok((optimizer.step(learning_rate, head, gradients), log))
}

/// Runs one epoch: every concept batch once, `batch_size` per Adam step. Returns the trained
/// head, the optimizer and the epoch's log. `progress` is called after each step with the
/// number of concept batches done.
pub fn run_epoch(
    config: &TrainConfig,
    data: &TrainingData,
    sampler: &ConceptSampler,
    epoch: usize,
    mut head: GroundingHead,
    optimizer: &mut ModuleOptimizer,
    device: &Device,
    progress: &mut dyn FnMut(usize),
) -> Result<(GroundingHead, EpochLog)> {
    let start = Instant::now();
    let batches = sampler.epoch(epoch as u64);
    let (mut common, mut independent, mut total, mut correct) = (0.0, 0.0, 0.0, 0usize);
    let mut steps = 0;
    for (index, chunk) in batches.chunks(config.batch_size.max(1)).enumerate() {
        let inputs = batch_tensors(data, chunk, device);
        let (trained, step) =
            train_step(head, optimizer, config.learning_rate, config.loss, inputs)?;
        head = trained;
        common += step.loss_common;
        independent += step.loss_independent;
        total += step.loss_total;
        correct += step.correct;
        steps += 1;
        progress((index * config.batch_size + chunk.len()).min(batches.len()));
    }
    let steps = steps.max(1) as f64;
    let log = EpochLog {
        epoch: epoch + 1,
        loss_common: common / steps,
        loss_independent: independent / steps,
        loss_total: total / steps,
        concept_accuracy: 100.0 * correct as f64 / batches.len().max(1) as f64,
        seconds: start.elapsed().as_secs_f64(),
    };
    Ok((head, log))
}

/// Builds the head's configuration for a training run.
pub fn head_config(config: &TrainConfig, phrase_dim: usize, concepts: usize) -> HeadConfig {
    HeadConfig::for_encoders(config.image_encoder.channels(), phrase_dim, concepts)
}

/// Creates a fresh head and Adam optimizer, seeded by the configuration.
pub fn init(
    config: &TrainConfig,
    head_config: &HeadConfig,
    device: &Device,
) -> (GroundingHead, ModuleOptimizer) {
    device.seed(config.seed);
    let head = head_config.init(device);
    (head, AdamConfig::new().init())
}

/// Writes the head as `head.safetensors` with `head.json` beside it, both atomically.
pub fn save_head(
    dir: &Path,
    head: &GroundingHead,
    head_config: &HeadConfig,
    config: &TrainConfig,
    set: &ConceptSet,
    training: serde_json::Value,
) -> Result<PathBuf> {
    let path = dir.join("head.safetensors");
    let description = HeadFile {
        format: HEAD_FORMAT.into(),
        image_encoder: config.image_encoder,
        config: head_config.clone(),
        concepts: set.concepts.clone(),
        trained: true,
        parts: HeadParts::Full,
        training,
    };
    let json = serde_json::to_vec_pretty(&description).map_err(|error| Error::Config {
        name: "head.json".into(),
        detail: error.to_string(),
    })?;
    // The head is read back on the inference device, so take it off the autodiff graph.
    let head = head.clone().valid();
    crate::files::write_atomic(&path, &head.to_safetensors()?)?;
    crate::files::write_atomic(&path.with_extension("json"), &json)?;
    Ok(path)
}

/// Sizes of a head before and after [`export_inference_head`], in bytes.
#[derive(Debug, Clone, Copy)]
pub struct ExportedHead {
    /// The full head's safetensors file.
    pub full_bytes: u64,
    /// The attention-only f16 file written.
    pub exported_bytes: u64,
}

/// Reads a full head saved by [`save_head`] (`head`, with its `.json` beside it) and writes
/// what inference needs, the attention in f16, to `out` with its `.json` beside it. The
/// description keeps the vocabulary and the training record, so the shipped file still records
/// how it was made.
pub fn export_inference_head(head: &Path, out: &Path, device: &Device) -> Result<ExportedHead> {
    let weights = WeightFile::open(head, crate::model::HEAD_HINT)?;
    let json_path = head.with_extension("json");
    let json = std::fs::read(&json_path).map_err(|error| Error::Config {
        name: json_path.display().to_string(),
        detail: format!(
            "cannot read the head description beside {} ({error}); pass the head.safetensors that \
             `semground train` wrote in its --out folder (checkpoint files cannot be exported)",
            head.display()
        ),
    })?;
    check_export_target(head, out)?;
    let mut description: HeadFile =
        serde_json::from_slice(&json).map_err(|error| Error::Config {
            name: json_path.display().to_string(),
            detail: format!("not a head description ({error})"),
        })?;
    if description.format != HEAD_FORMAT || description.parts != HeadParts::Full {
        return Err(Error::Config {
            name: json_path.display().to_string(),
            detail: format!(
                "expected a full head ({HEAD_FORMAT}, parts full) as `semground train` writes it, found {:?} with parts {:?}",
                description.format, description.parts
            ),
        });
    }
    let full_bytes = weights.len() as u64;
    let trained = GroundingHead::load(&description.config, weights, device)?;

    let bytes = trained.attention_to_safetensors()?;
    description.parts = HeadParts::Attention;
    let json = serde_json::to_vec_pretty(&description).map_err(|error| Error::Config {
        name: "head description".into(),
        detail: error.to_string(),
    })?;
    crate::files::write_atomic(out, &bytes)?;
    crate::files::write_atomic(&out.with_extension("json"), &json)?;
    Ok(ExportedHead {
        full_bytes,
        exported_bytes: bytes.len() as u64,
    })
}

/// Rejects an export that would overwrite its own input or write into a missing folder.
fn check_export_target(head: &Path, out: &Path) -> Result<()> {
    let invalid = |detail: String| Error::Config {
        name: format!("--out {}", out.display()),
        detail,
    };
    let folder = match out.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let Ok(folder) = folder.canonicalize() else {
        return Err(invalid(format!(
            "the folder {} does not exist; create it first",
            folder.display()
        )));
    };
    let target = folder.join(out.file_name().unwrap_or_default());
    let source = head.canonicalize().unwrap_or_else(|_| head.to_path_buf());
    if target == source || target.with_extension("json") == source.with_extension("json") {
        return Err(invalid(format!(
            "it would overwrite the full head {} that it reads; choose another file, such as weights/head-<encoder>.safetensors",
            head.display()
        )));
    }
    Ok(())
}
