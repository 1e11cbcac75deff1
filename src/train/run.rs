//! A whole training run, from the annotation file to the saved head: what `semground train`
//! executes.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use burn::tensor::Device;

use super::{
    EpochLog, TrainConfig, TrainingData, checkpoint, head_config, init, run_epoch, save_head,
};
use crate::cache::FeatureCache;
use crate::data::{ConceptSampler, ConceptSet, Pair, PhraseUnit, pairs};
use crate::encoders::{ImageEncoder, PhraseEncoder};
use crate::error::{Error, Result};
use crate::features::{photo_features, phrase_features};
use crate::head::{GroundingHead, HeadFile};
use crate::model::{PHRASE_WEIGHTS, TOKENIZER};
use crate::progress::Progress;
use crate::text::{Tagger, noun_chunks};
use crate::weights::{REGENERATE_HINT, WeightFile};

/// File name of the tagger table inside the weights folder.
pub const TAGGER: &str = "tagger.json.gz";

/// Paths and device of a run, besides its [`TrainConfig`].
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// The run's settings.
    pub config: TrainConfig,
    /// Output folder: `config.json`, `log.jsonl`, `head.safetensors`, `head.json`, `checkpoint/`.
    pub out: PathBuf,
    /// Folder with the frozen weights, tokenizer and tagger.
    pub weights: PathBuf,
    /// Feature cache folder.
    pub cache: PathBuf,
    /// Continue from the last checkpoint in `out`.
    pub resume: bool,
    /// Device for the frozen encoders and the head's training (autodiff is added for the head).
    pub device: Device,
}

/// Outcome of a finished run.
#[derive(Debug, Clone)]
pub struct TrainSummary {
    /// The saved head; `None` when no epoch was run (features only).
    pub head: Option<PathBuf>,
    /// The log of every epoch run so far, resumed ones included.
    pub epochs: Vec<EpochLog>,
    /// Pairs used for training.
    pub pairs: usize,
    /// Concepts in the vocabulary.
    pub concepts: usize,
}

fn read_log(path: &Path, keep: usize) -> Vec<EpochLog> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|line| serde_json::from_str::<EpochLog>(line).ok())
        .filter(|log| log.epoch <= keep)
        .collect()
}

/// Returns the epoch count recorded in `out/head.json`, if that file is readable.
fn recorded_epochs(out: &Path) -> Option<usize> {
    let bytes = std::fs::read(out.join("head.json")).ok()?;
    let description: HeadFile = serde_json::from_slice(&bytes).ok()?;
    description.training["epochs"]
        .as_u64()
        .map(|epochs| epochs as usize)
}

fn write_log(path: &Path, logs: &[EpochLog]) -> Result<()> {
    let mut text = Vec::new();
    for log in logs {
        serde_json::to_writer(&mut text, log).map_err(|error| Error::Config {
            name: "log".into(),
            detail: error.to_string(),
        })?;
        text.write_all(b"\n")
            .map_err(|source| Error::io("failed to write", path, source))?;
    }
    crate::files::write_atomic(path, &text)
}

fn summarise_list(items: &[String]) -> String {
    let shown: Vec<&str> = items.iter().take(10).map(String::as_str).collect();
    let more = items.len().saturating_sub(shown.len());
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

/// Loads pairs, concepts and features: everything up to the first epoch.
pub fn prepare(options: &TrainOptions, progress: &mut dyn Progress) -> Result<TrainingData> {
    let config = &options.config;
    let encode_device = options.device.clone();

    // Pairs, with malformed records skipped where asked.
    let loaded = pairs::load(&config.pairs, config.format, config.skip_bad)?;
    if !loaded.skipped.is_empty() {
        progress.note(&format!(
            "skipped {} malformed record(s): {}",
            loaded.skipped.len(),
            summarise_list(&loaded.skipped)
        ));
    }

    // Photos that do not exist are listed and their pairs dropped.
    let mut missing: Vec<String> = Vec::new();
    let mut checked = HashSet::new();
    for pair in &loaded.pairs {
        if checked.insert(pair.image.as_str()) && !options.config.images.join(&pair.image).is_file()
        {
            missing.push(pair.image.clone());
        }
    }
    let mut all_pairs = loaded.pairs;
    if !missing.is_empty() {
        progress.note(&format!(
            "warning: {} photo(s) not found in {}, their pairs are dropped: {}",
            missing.len(),
            config.images.display(),
            summarise_list(&missing)
        ));
        let missing: HashSet<&str> = missing.iter().map(String::as_str).collect();
        all_pairs.retain(|pair| !missing.contains(pair.image.as_str()));
    }
    if all_pairs.is_empty() {
        return Err(Error::Config {
            name: config.pairs.display().to_string(),
            detail: format!(
                "no pair has its photo in {}; check --images",
                config.images.display()
            ),
        });
    }

    // Noun concepts.
    let tagger_path = options.weights.join(TAGGER);
    let tagger_bytes = std::fs::read(&tagger_path)
        .map_err(|source| Error::io("failed to read", &tagger_path, source))?;
    let tagger = Tagger::from_gzip(&tagger_bytes)?;
    progress.start("tagging nouns", all_pairs.len());
    let mut tagged = 0;
    let set = match config.phrases {
        PhraseUnit::Captions => ConceptSet::build(&tagger, all_pairs, config.concepts, || {
            tagged += 1;
            if tagged % 1000 == 0 {
                progress.set(tagged);
            }
        }),
        PhraseUnit::NounPhrases => {
            let mut chunk_pairs = Vec::new();
            let mut heads = Vec::new();
            for (index, pair) in all_pairs.iter().enumerate() {
                for (chunk, head) in noun_chunks(&tagger, &pair.phrase) {
                    chunk_pairs.push(Pair {
                        image: pair.image.clone(),
                        phrase: chunk,
                    });
                    heads.push(vec![head]);
                }
                if index % 1000 == 0 {
                    progress.set(index);
                }
            }
            progress.note(&format!(
                "{} noun-phrase chunks from {} phrases",
                chunk_pairs.len(),
                all_pairs.len()
            ));
            ConceptSet::from_nouns(chunk_pairs, heads, config.concepts)
        }
    };
    progress.finish();
    progress.note(&format!(
        "{} concepts; {} pairs kept, {} dropped without a vocabulary noun ({:.1}% coverage)",
        set.concepts.len(),
        set.pairs.len(),
        set.dropped,
        set.coverage * 100.0
    ));
    if set.pairs.is_empty() {
        return Err(Error::Config {
            name: config.pairs.display().to_string(),
            detail: "no phrase contains a noun".into(),
        });
    }

    // Frozen features, through the cache.
    let cache = FeatureCache::new(&options.cache);
    let kind = config.image_encoder;
    let image_weights =
        WeightFile::open(&options.weights.join(kind.weights_file()), REGENERATE_HINT)?;
    let image_encoder = ImageEncoder::load(kind, image_weights, &encode_device)?;
    let mut names: Vec<String> = set.pairs.iter().map(|pair| pair.image.clone()).collect();
    names.sort();
    names.dedup();
    progress.start(&format!("{kind} features"), names.len());
    let (photos, unusable) = photo_features(
        &image_encoder,
        &config.images,
        &names,
        &cache,
        &encode_device,
        &mut |done| progress.set(done),
    )?;
    progress.finish();
    drop(image_encoder);

    let tokenizer_path = options.weights.join(TOKENIZER);
    let tokenizer = std::fs::read(&tokenizer_path)
        .map_err(|source| Error::io("failed to read", &tokenizer_path, source))?;
    let phrase_weights = WeightFile::open(&options.weights.join(PHRASE_WEIGHTS), REGENERATE_HINT)?;
    let phrase_encoder = PhraseEncoder::load(&tokenizer, phrase_weights, &encode_device)?;
    let phrases: Vec<String> = set.pairs.iter().map(|pair| pair.phrase.clone()).collect();
    let distinct: std::collections::HashSet<&String> = phrases.iter().collect();
    progress.start("phrase features", distinct.len());
    let phrases = phrase_features(
        &phrase_encoder,
        &phrases,
        &cache,
        &encode_device,
        &mut |done| progress.set(done),
    )?;
    progress.finish();

    let mut set = set;
    if !unusable.is_empty() {
        let listed: Vec<String> = unusable
            .iter()
            .map(|u| format!("{} ({})", u.name, u.reason))
            .collect();
        progress.note(&format!(
            "warning: {} photo(s) could not be decoded, their pairs are dropped: {}",
            unusable.len(),
            summarise_list(&listed)
        ));
        let bad: HashSet<&str> = unusable.iter().map(|u| u.name.as_str()).collect();
        let keep: Vec<bool> = set
            .pairs
            .iter()
            .map(|pair| !bad.contains(pair.image.as_str()))
            .collect();
        let mut flags = keep.iter();
        set.pairs.retain(|_| *flags.next().unwrap_or(&true));
        let mut flags = keep.iter();
        set.pair_concepts.retain(|_| *flags.next().unwrap_or(&true));
    }
    Ok(TrainingData {
        set,
        photos,
        phrases,
    })
}

/// Runs training as configured, checkpointing after every epoch.
pub fn train(options: &TrainOptions, progress: &mut dyn Progress) -> Result<TrainSummary> {
    let out = &options.out;
    let checkpoint_state = out.join("checkpoint/state.json");
    if checkpoint_state.exists() && !options.resume {
        return Err(Error::Config {
            name: out.display().to_string(),
            detail: "this folder holds a checkpoint of an earlier run; pass --resume to continue it, or choose another --out".into(),
        });
    }
    std::fs::create_dir_all(out).map_err(|source| Error::io("failed to create", out, source))?;
    let config = &options.config;

    let data = prepare(options, progress)?;
    let device = options.device.clone().autodiff();
    let head_config = head_config(config, data.phrases.dim, data.set.concepts.len());
    let (mut head, mut optimizer) = init(config, &head_config, &device);
    let mut first_epoch = 0;
    if options.resume {
        match checkpoint::load(out, config, head.clone(), optimizer.clone())? {
            Some((done, loaded_head, loaded_optimizer)) => {
                progress.note(&format!("resuming after epoch {done}"));
                (first_epoch, head, optimizer) = (done, loaded_head, loaded_optimizer);
            }
            None => progress.note("no checkpoint to resume from; starting at epoch 1"),
        }
    }
    // Written only now, so that a resume rejected above leaves the folder as it was.
    let config_json = serde_json::to_vec_pretty(config).map_err(|error| Error::Config {
        name: "config".into(),
        detail: error.to_string(),
    })?;
    crate::files::write_atomic(&out.join("config.json"), &config_json)?;

    let log_path = out.join("log.jsonl");
    let mut logs = read_log(&log_path, first_epoch);
    let sampler = ConceptSampler::new(
        data.set.pair_concepts.clone(),
        data.set.concepts.len(),
        config.k,
        config.seed,
    );
    // The head files describe the last checkpointed epoch. They are written after the
    // checkpoint, so a kill between the two leaves them one epoch behind.
    let write_head = |head: &GroundingHead, epochs: usize, logs: &[EpochLog]| {
        let training = serde_json::json!({
            "epochs": epochs,
            "pairs": data.set.pairs.len(),
            "config": config,
            "seconds": logs.iter().map(|l| l.seconds).sum::<f64>(),
        });
        save_head(out, head, &head_config, config, &data.set, training)
    };
    let mut head_path = None;
    if first_epoch > 0 && first_epoch >= config.epochs {
        progress.note(&format!(
            "the checkpoint already holds {first_epoch} epoch(s) and --epochs is {}, so no epoch was run; pass a larger --epochs to train more",
            config.epochs
        ));
        head_path = Some(if recorded_epochs(out) == Some(first_epoch) {
            out.join("head.safetensors")
        } else {
            write_head(&head, first_epoch, &logs)?
        });
    }
    for epoch in first_epoch..config.epochs {
        progress.start(
            &format!("epoch {}/{}", epoch + 1, config.epochs),
            sampler.batches_per_epoch(),
        );
        let (trained, log) = run_epoch(
            config,
            &data,
            &sampler,
            epoch,
            head,
            &mut optimizer,
            &device,
            &mut |done| progress.set(done),
        )?;
        head = trained;
        progress.finish();
        progress.note(&format!(
            "epoch {}: loss {:.4} (common {:.4}, independent {:.4}), concept accuracy {:.1}%, {:.1} s",
            log.epoch, log.loss_total, log.loss_common, log.loss_independent, log.concept_accuracy, log.seconds
        ));

        // The log before the checkpoint. A kill between the two leaves a log line past the
        // checkpoint, which resuming drops. The other order would lose a checkpointed epoch's line.
        logs.push(log);
        write_log(&log_path, &logs)?;
        checkpoint::save(out, epoch + 1, config, &head, &optimizer)?;
        head_path = Some(write_head(&head, epoch + 1, &logs)?);
    }
    Ok(TrainSummary {
        head: head_path,
        epochs: logs,
        pairs: data.set.pairs.len(),
        concepts: data.set.concepts.len(),
    })
}
