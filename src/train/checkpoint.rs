//! Training checkpoints. After every epoch the head (with its batch-norm statistics and
//! parameter ids) and Adam's moments are saved. After a crash or `kill -9`, `--resume`
//! continues from the last finished epoch and ends with the weights of an uninterrupted run.
//!
//! Layout in `OUT/checkpoint/`: `head-E.bpk`, `optimizer-E.bpk` (burn's burnpack records),
//! `head-E.safetensors` (the batch norms' running statistics, which burn's records omit) and
//! `state.json`, which names the finished epoch E. Each file is written to a temporary name
//! and renamed; `state.json` is replaced last, so it always points at complete files.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::store::ModuleRecord;
use serde::{Deserialize, Serialize};

use super::TrainConfig;
use crate::error::{Error, Result};
use crate::head::GroundingHead;
use crate::weights::WeightFile;

/// Contents of `state.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckpointState {
    /// Epochs finished.
    pub epochs_done: usize,
    /// The run's configuration, checked against the resumed run's.
    pub config: TrainConfig,
}

fn checkpoint_dir(out: &Path) -> PathBuf {
    out.join("checkpoint")
}

fn record_error(path: &Path, error: impl std::fmt::Display) -> Error {
    Error::Config {
        name: path.display().to_string(),
        detail: format!(
            "unreadable checkpoint ({error}); delete the checkpoint folder to start over"
        ),
    }
}

/// Saves the state after `epochs_done` epochs and removes older checkpoint files.
pub fn save(
    out: &Path,
    epochs_done: usize,
    config: &TrainConfig,
    head: &GroundingHead,
    optimizer: &ModuleOptimizer,
) -> Result<()> {
    let dir = checkpoint_dir(out);
    std::fs::create_dir_all(&dir).map_err(|source| Error::io("failed to create", &dir, source))?;
    let head_path = dir.join(format!("head-{epochs_done}.bpk"));
    let optimizer_path = dir.join(format!("optimizer-{epochs_done}.bpk"));
    let stats_path = dir.join(format!("head-{epochs_done}.safetensors"));
    crate::files::write_atomic(&stats_path, &head.to_safetensors()?)?;

    let temporary = dir.join(format!(".head-{epochs_done}.tmp"));
    head.clone()
        .into_record()
        .save(&temporary)
        .map_err(|error| record_error(&temporary, error))?;
    std::fs::rename(&temporary, &head_path)
        .map_err(|source| Error::io("failed to rename", &temporary, source))?;
    let temporary = dir.join(format!(".optimizer-{epochs_done}.tmp"));
    optimizer
        .save(&temporary)
        .map_err(|error| record_error(&temporary, error))?;
    std::fs::rename(&temporary, &optimizer_path)
        .map_err(|source| Error::io("failed to rename", &temporary, source))?;

    let state = CheckpointState {
        epochs_done,
        config: config.clone(),
    };
    let json = serde_json::to_vec_pretty(&state).map_err(|error| record_error(&dir, error))?;
    crate::files::write_atomic(&dir.join("state.json"), &json)?;

    // Older epochs are no longer referenced.
    for entry in std::fs::read_dir(&dir)
        .map_err(|source| Error::io("failed to list", &dir, source))?
        .flatten()
    {
        let path = entry.path();
        let stale = path
            .extension()
            .is_some_and(|ext| ext == "bpk" || ext == "safetensors");
        if path != head_path && path != optimizer_path && path != stats_path && stale {
            let _ = std::fs::remove_file(path);
        }
    }
    Ok(())
}

/// Loads the last checkpoint into `head` and `optimizer` (freshly initialised for `config`).
/// Returns `None` when there is none; fails when it belongs to another configuration.
pub fn load(
    out: &Path,
    config: &TrainConfig,
    head: GroundingHead,
    optimizer: ModuleOptimizer,
) -> Result<Option<(usize, GroundingHead, ModuleOptimizer)>> {
    let dir = checkpoint_dir(out);
    let state_path = dir.join("state.json");
    let Ok(json) = std::fs::read(&state_path) else {
        return Ok(None);
    };
    let state: CheckpointState =
        serde_json::from_slice(&json).map_err(|error| record_error(&state_path, error))?;
    // More epochs may be asked for on resume; every other setting must match.
    let same_run = TrainConfig {
        epochs: config.epochs,
        ..state.config.clone()
    } == *config;
    if !same_run {
        return Err(Error::Config {
            name: state_path.display().to_string(),
            detail: format!(
                "the checkpoint was made with other settings ({}); rerun with the same flags, \
                 or choose a new --out folder",
                differences(&state.config, config)
            ),
        });
    }
    let head_path = dir.join(format!("head-{}.bpk", state.epochs_done));
    let record = ModuleRecord::load(&head_path).map_err(|error| record_error(&head_path, error))?;
    let device = head.attention.image_norm.gamma.val().device();
    let stats_path = dir.join(format!("head-{}.safetensors", state.epochs_done));
    let mut stats = WeightFile::open(&stats_path, "delete the checkpoint folder to start over")?;
    let head = head
        .load_record(record)
        .restore_running_stats(&mut stats, &device)?;
    let optimizer_path = dir.join(format!("optimizer-{}.bpk", state.epochs_done));
    let optimizer = optimizer
        .load(&optimizer_path)
        .map_err(|error| record_error(&optimizer_path, error))?;
    Ok(Some((state.epochs_done, head, optimizer)))
}

/// Lists the settings of `current` that differ from `saved`, as `name: saved, now current`.
fn differences(saved: &TrainConfig, current: &TrainConfig) -> String {
    let as_map = |config: &TrainConfig| match serde_json::to_value(config) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    let (saved, current) = (as_map(saved), as_map(current));
    saved
        .iter()
        .filter(|(name, value)| name.as_str() != "epochs" && current.get(*name) != Some(value))
        .map(|(name, value)| {
            let now = current.get(name).cloned().unwrap_or_default();
            format!("{name}: {value} in the checkpoint, {now} now")
        })
        .collect::<Vec<_>>()
        .join("; ")
}
