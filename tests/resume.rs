//! Checkpoints: a run stopped after an epoch and resumed ends with the same weights as an
//! uninterrupted run, including after `kill -9` of the command-line trainer.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use burn::tensor::Device;
use semground::data::{PairFormat, PhraseUnit};
use semground::encoders::ImageEncoderKind;
use semground::head::LossKind;
use semground::progress::Quiet;
use semground::train::TrainConfig;
use semground::train::run::{TrainOptions, train};

fn weights() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("weights")
}

fn options(root: &Path, out: &str, epochs: usize, resume: bool) -> TrainOptions {
    TrainOptions {
        config: TrainConfig {
            pairs: root.join("captions.tsv"),
            format: PairFormat::Tsv,
            images: root.join("images"),
            phrases: PhraseUnit::Captions,
            image_encoder: ImageEncoderKind::EfficientNetLite0,
            k: 3,
            loss: LossKind::Both,
            concepts: 10,
            epochs,
            learning_rate: 1e-3,
            batch_size: 4,
            seed: 9,
            skip_bad: false,
        },
        out: root.join(out),
        weights: weights(),
        cache: root.join("cache"),
        resume,
        device: Device::flex(),
    }
}

#[test]
fn resumed_run_matches_uninterrupted() {
    let root = std::env::temp_dir().join(format!("semground-resume-{}", std::process::id()));
    common::make_training_set(&root, 30, 5);

    let full = train(&options(&root, "full", 3, false), &mut Quiet).unwrap();
    train(&options(&root, "split", 1, false), &mut Quiet).unwrap();
    let resumed = train(&options(&root, "split", 3, true), &mut Quiet).unwrap();

    assert_eq!(
        resumed.epochs.len(),
        3,
        "the log keeps the first run's epoch"
    );
    for (a, b) in full.epochs.iter().zip(&resumed.epochs) {
        assert_eq!(a.loss_total, b.loss_total, "epoch {} loss", a.epoch);
    }
    let full_head = std::fs::read(full.head.unwrap()).unwrap();
    let resumed_head = std::fs::read(resumed.head.unwrap()).unwrap();
    if full_head != resumed_head {
        std::fs::write("/tmp/full.safetensors", &full_head).unwrap();
        std::fs::write("/tmp/resumed.safetensors", &resumed_head).unwrap();
    }
    assert!(
        full_head == resumed_head,
        "head weights differ between the uninterrupted and the resumed run"
    );

    // Without --resume, an existing checkpoint is not overwritten.
    let error = train(&options(&root, "split", 4, false), &mut Quiet)
        .unwrap_err()
        .to_string();
    assert!(error.contains("pass --resume"), "{error}");
    // With other settings, resuming is refused, the setting is named, and the folder's
    // config.json still describes the checkpoint.
    let config_before = std::fs::read(root.join("split/config.json")).unwrap();
    let mut other = options(&root, "split", 4, true);
    other.config.k = 4;
    let error = train(&other, &mut Quiet).unwrap_err().to_string();
    assert!(error.contains("other settings"), "{error}");
    assert!(error.contains("k: 3 in the checkpoint, 4 now"), "{error}");
    assert_eq!(
        std::fs::read(root.join("split/config.json")).unwrap(),
        config_before
    );

    // Resuming with no more epochs than done trains nothing and keeps the head.
    let again = train(&options(&root, "split", 3, true), &mut Quiet).unwrap();
    assert_eq!(again.head, Some(root.join("split/head.safetensors")));
    assert_eq!(again.epochs.len(), 3);
    std::fs::remove_dir_all(&root).unwrap();
}

/// Rebuilds the folder states a kill can leave between the writes of an epoch's end, and
/// checks that resuming repairs them.
#[test]
fn kill_between_epoch_files() {
    let root = std::env::temp_dir().join(format!("semground-resume-gap-{}", std::process::id()));
    common::make_training_set(&root, 30, 5);
    let out = root.join("run");
    train(&options(&root, "run", 1, false), &mut Quiet).unwrap();

    // Killed after epoch 2's log line and before its checkpoint: the line is dropped and
    // epoch 2 runs again.
    let log_path = out.join("log.jsonl");
    let first = std::fs::read_to_string(&log_path).unwrap();
    let mut orphan: serde_json::Value = serde_json::from_str(first.trim()).unwrap();
    orphan["epoch"] = 2.into();
    orphan["loss_total"] = 99.0.into();
    std::fs::write(&log_path, format!("{first}{orphan}\n")).unwrap();
    let resumed = train(&options(&root, "run", 2, true), &mut Quiet).unwrap();
    let epochs: Vec<usize> = resumed.epochs.iter().map(|log| log.epoch).collect();
    assert_eq!(epochs, [1, 2], "epochs in the log after resuming");
    assert_ne!(
        resumed.epochs[1].loss_total, 99.0,
        "the orphan line was kept"
    );
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert_eq!(log.lines().count(), 2, "log.jsonl after resuming: {log}");

    // Killed after the checkpoint and before the head files: resuming with no epoch left
    // rewrites them from the checkpoint.
    let head_json = out.join("head.json");
    let mut description: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&head_json).unwrap()).unwrap();
    description["training"]["epochs"] = 1.into();
    std::fs::write(&head_json, description.to_string()).unwrap();
    train(&options(&root, "run", 2, true), &mut Quiet).unwrap();
    let description: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&head_json).unwrap()).unwrap();
    assert_eq!(
        description["training"]["epochs"], 2,
        "head.json after resuming with no epoch left"
    );
    std::fs::remove_dir_all(&root).unwrap();
}

fn epochs_done(out: &Path) -> usize {
    let Ok(text) = std::fs::read_to_string(out.join("checkpoint/state.json")) else {
        return 0;
    };
    let state: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    state["epochs_done"].as_u64().unwrap_or(0) as usize
}

#[test]
fn kill_nine_then_resume() {
    let root = std::env::temp_dir().join(format!("semground-kill-{}", std::process::id()));
    common::make_training_set(&root, 30, 6);
    let out = root.join("run");
    let args = |epochs: &str| {
        vec![
            "train".to_string(),
            "--pairs".into(),
            root.join("captions.tsv").display().to_string(),
            "--format".into(),
            "tsv".into(),
            "--images".into(),
            root.join("images").display().to_string(),
            "--out".into(),
            out.display().to_string(),
            "--encoder".into(),
            "efficientnet-lite0".into(),
            "--k".into(),
            "3".into(),
            "--concepts".into(),
            "10".into(),
            "--batch-size".into(),
            "4".into(),
            "--epochs".into(),
            epochs.into(),
            "--cache".into(),
            root.join("cache").display().to_string(),
            "--weights".into(),
            weights().display().to_string(),
        ]
    };

    // Start a long run and kill it hard once the first epoch is checkpointed.
    let mut child = Command::new(env!("CARGO_BIN_EXE_semground"))
        .args(args("200"))
        .spawn()
        .unwrap();
    let start = Instant::now();
    while epochs_done(&out) == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(600),
            "no checkpoint within 10 minutes"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the trainer exited early"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    let done = epochs_done(&out);

    let mut resume = args(&(done + 1).to_string());
    resume.push("--resume".into());
    let output = Command::new(env!("CARGO_BIN_EXE_semground"))
        .args(&resume)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("resuming after epoch {done}")),
        "{stderr}"
    );
    assert_eq!(epochs_done(&out), done + 1);
    let log = std::fs::read_to_string(out.join("log.jsonl")).unwrap();
    assert_eq!(
        log.lines().count(),
        done + 1,
        "one log line per finished epoch: {log}"
    );
    assert!(
        out.join("head.safetensors").exists(),
        "head weights written"
    );
    assert!(out.join("head.json").exists(), "head description written");
    std::fs::remove_dir_all(&root).unwrap();
}
