//! Parity with the PyTorch reference `bench/reference.py`: the whole inference path (encoder,
//! phrase encoder, shipped head) on the parity photo, and one training step of the head
//! (loss terms and every tensor after the Adam update). Skipped with a message when the
//! Python found (`SEMGROUND_PYTHON`, else `python3`) lacks torch, transformers or
//! efficientnet-lite-pytorch.

use std::path::PathBuf;
use std::process::Command;

use burn::tensor::Device;
use semground::encoders::ImageEncoderKind;
use semground::model::Grounder;

/// Largest allowed |semground - PyTorch| for an attention weight (weights sum to 1 per map).
const TOLERANCE: f32 = 1e-5;
/// Largest allowed difference of a loss term of the training step (each is about 4 to 8).
const LOSS_TOLERANCE: f64 = 1e-4;
/// Largest allowed difference of a head tensor after the step. Adam's first update moves
/// each parameter by about the learning rate, 1e-3, so this is 1% of a step.
const STEP_TOLERANCE: f64 = 1e-5;

#[path = "common/train_step.rs"]
mod train_step;

const PHRASES: [&str; 3] = ["a woman in a white space suit", "the flag", "a red shirt"];

fn python() -> Option<String> {
    let python = std::env::var("SEMGROUND_PYTHON").unwrap_or_else(|_| "python3".into());
    let found = Command::new(&python)
        .args([
            "-c",
            "import torch, transformers, tokenizers, efficientnet_lite_pytorch",
        ])
        .output()
        .is_ok_and(|output| output.status.success());
    if found {
        Some(python)
    } else {
        eprintln!(
            "skipped: {python} cannot import torch, transformers, tokenizers and efficientnet_lite_pytorch; \
             install them or set SEMGROUND_PYTHON to a Python that has them"
        );
        None
    }
}

#[test]
fn shipped_heads_match_pytorch() {
    let Some(python) = python() else {
        return;
    };
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let photo_path = root.join("tests/data/parity/photo-224.png");
    let photo = image::open(&photo_path).unwrap().to_rgb8();
    let device = Device::flex();

    for kind in [ImageEncoderKind::Vgg16, ImageEncoderKind::EfficientNetLite0] {
        let mut command = Command::new(&python);
        command
            .arg(root.join("bench/reference.py"))
            .args(["maps", "--encoder", kind.name(), "--image"])
            .arg(&photo_path);
        for phrase in PHRASES {
            command.args(["--phrase", phrase]);
        }
        let output = command.output().unwrap();
        assert!(
            output.status.success(),
            "bench/reference.py failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let reference: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();

        let grounder = Grounder::from_dir(&root.join("weights"), kind, None, &device).unwrap();
        assert!(grounder.head_file.trained, "no shipped head for {kind}");
        let features = grounder.encode_photo(&photo);
        let embeddings = grounder.encode_phrases(&PHRASES).unwrap().embeddings;
        let maps: Vec<f32> = grounder
            .heatmaps(features, embeddings)
            .into_data()
            .try_into_vec()
            .unwrap();

        let mut worst = (0.0f32, 0usize, 0.0f32, 0.0f32);
        for (phrase, map) in maps.chunks(49).enumerate() {
            for (cell, &ours) in map.iter().enumerate() {
                let theirs = reference["maps"][phrase][cell].as_f64().unwrap() as f32;
                let difference = (ours - theirs).abs();
                if difference > worst.0 {
                    worst = (difference, phrase * 49 + cell, ours, theirs);
                }
            }
        }
        let (difference, index, ours, theirs) = worst;
        println!(
            "{kind}: max |difference| {difference:.3e} at map value {index} (semground {ours:.6}, PyTorch {theirs:.6}), tolerance {TOLERANCE:.0e}"
        );
        assert!(
            difference <= TOLERANCE,
            "{kind}: semground {ours} and PyTorch {theirs} differ by {difference:.3e} at map value {index}, above {TOLERANCE:.0e}"
        );
    }
}

#[test]
fn training_step_matches_pytorch() {
    let Some(python) = python() else {
        return;
    };
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = std::env::temp_dir().join(format!("semground-train-step-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // The trainer's shapes with fewer concept batches and concepts, to keep the test short.
    let shape = train_step::StepShape {
        batches: 4,
        concepts: 100,
        ..train_step::DEFAULT_STEP
    };
    let ours = train_step::write_parity_step(&dir, shape);

    let output = Command::new(&python)
        .arg(root.join("bench/reference.py"))
        .args(["train-step", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).ok();
    assert!(
        output.status.success(),
        "bench/reference.py train-step failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let theirs: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();

    for (name, value) in [
        ("loss_common", ours.loss_common),
        ("loss_independent", ours.loss_independent),
        ("loss_total", ours.loss_total),
    ] {
        let reference = theirs[name].as_f64().unwrap();
        println!(
            "{name}: semground {value:.6}, PyTorch {reference:.6}, tolerance {LOSS_TOLERANCE:.0e}"
        );
        assert!(
            (value - reference).abs() <= LOSS_TOLERANCE,
            "{name}: semground {value} and PyTorch {reference} differ by more than {LOSS_TOLERANCE:.0e}"
        );
    }
    let (difference, tensor) = (
        theirs["max_difference"].as_f64().unwrap(),
        theirs["worst_tensor"].as_str().unwrap(),
    );
    println!(
        "head after the step: max |semground - PyTorch| {difference:.3e} in {tensor}, tolerance {STEP_TOLERANCE:.0e}"
    );
    assert!(
        difference <= STEP_TOLERANCE,
        "after one Adam step, {tensor} differs by {difference:.3e} between semground and PyTorch, above {STEP_TOLERANCE:.0e}"
    );
}
