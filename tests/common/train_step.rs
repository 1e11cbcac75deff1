//! One training step of the head on fixed inputs, shared by the training parity test
//! (`tests/reference.rs`) and the `train-step` case of `benches/compare.rs`. Inputs come from a
//! formula that `bench/reference.py` repeats. The parity check also writes them to files, with
//! the head before and after the step, for `bench/reference.py train-step`.

// Each includer uses a different part of this file.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::Path;

use burn::module::Module;
use burn::optim::AdamConfig;
use burn::tensor::{Device, Int, Tensor, TensorData};
use semground::head::{GroundingHead, HeadConfig, LossKind};
use semground::train::{StepLog, train_step};
use semground::weights::TensorWriter;

/// Sizes of a training step.
#[derive(Debug, Clone, Copy)]
pub struct StepShape {
    /// Concept batches per step.
    pub batches: usize,
    /// Pairs per concept batch.
    pub k: usize,
    /// Channels of the image map (512 for VGG16).
    pub channels: usize,
    /// Phrase embedding width (384 for MiniLM).
    pub phrase_dim: usize,
    /// Concept vocabulary size.
    pub concepts: usize,
}

/// The trainer's defaults with VGG16: 16 concept batches of k = 9, 2000 concepts.
pub const DEFAULT_STEP: StepShape = StepShape {
    batches: 16,
    k: 9,
    channels: 512,
    phrase_dim: 384,
    concepts: 2000,
};

/// Adam's learning rate, the trainer's default.
pub const LEARNING_RATE: f64 = 1e-3;

/// Fixed inputs: image maps in [0, 4) like ReLU features, phrase values in [-0.1, 0.1), and
/// scattered targets. `bench/reference.py` uses the same formulas.
///
/// # Shapes
/// image `[batches, k, channels, 7, 7]`, phrase `[batches, k, phrase_dim]`, targets `[batches]`
pub fn inputs(shape: StepShape, device: &Device) -> (Tensor<5>, Tensor<3>, Tensor<1, Int>) {
    let StepShape {
        batches,
        k,
        channels,
        phrase_dim,
        concepts,
    } = shape;
    let image: Vec<f32> = (0..batches * k * channels * 49)
        .map(|i| ((i as u64 * 2_654_435_761) % 1000) as f32 / 250.0)
        .collect();
    let phrase: Vec<f32> = (0..batches * k * phrase_dim)
        .map(|i| ((i as u64 * 40_503) % 1000) as f32 / 5000.0 - 0.1)
        .collect();
    let targets: Vec<i64> = (0..batches)
        .map(|b| ((b * 7919) % concepts) as i64)
        .collect();
    (
        Tensor::from_data(TensorData::new(image, [batches, k, channels, 7, 7]), device),
        Tensor::from_data(TensorData::new(phrase, [batches, k, phrase_dim]), device),
        Tensor::from_data(TensorData::new(targets, [batches]), device),
    )
}

/// Builds a fresh head on an autodiff CPU device, initialised from `seed`.
pub fn fresh_head(shape: StepShape, seed: u64) -> (GroundingHead, Device) {
    let device = Device::flex().autodiff();
    device.seed(seed);
    let config = HeadConfig::for_encoders(shape.channels, shape.phrase_dim, shape.concepts);
    (config.init(&device), device)
}

fn write_head(path: &Path, head: &GroundingHead) {
    let bytes = head
        .clone()
        .valid()
        .to_safetensors()
        .expect("the head serialises");
    std::fs::write(path, bytes).expect("the parity folder is writable");
}

/// Runs one step of the loss `both` and writes `head-before.safetensors`, `inputs.safetensors`
/// (image, phrase, targets as f32) and `head-after.safetensors` to `dir`. Returns the step's
/// loss terms.
pub fn write_parity_step(dir: &Path, shape: StepShape) -> StepLog {
    let (head, device) = fresh_head(shape, 0);
    let (image, phrase, targets) = inputs(shape, &device);
    write_head(&dir.join("head-before.safetensors"), &head);

    let mut writer = TensorWriter::default();
    writer
        .add("image", image.clone())
        .expect("inputs read back");
    writer
        .add("phrase", phrase.clone())
        .expect("inputs read back");
    writer
        .add("targets", targets.clone().float())
        .expect("inputs read back");
    let bytes = writer.to_bytes(HashMap::new()).expect("inputs serialise");
    std::fs::write(dir.join("inputs.safetensors"), bytes).expect("the parity folder is writable");

    let mut optimizer = AdamConfig::new().init();
    let (head, log) = train_step(
        head,
        &mut optimizer,
        LEARNING_RATE,
        LossKind::Both,
        (image, phrase, targets),
    )
    .expect("the step runs");
    write_head(&dir.join("head-after.safetensors"), &head);
    log
}
