//! The Rust side of `bench/compare.py`, which runs it and `bench/reference.py time` on the
//! same cases in alternation. One process times one case and prints one JSON line:
//! `{"case", "seconds": [one per run], "peak_rss_mb", "detail"}`.
//!
//! `cargo bench --bench compare -- --case NAME [--runs N] [--warmup N]`; `--maps` for the
//! parity maps (`{"vgg16": [[49] per phrase], "efficientnet-lite0": ...}`) of the parity
//! photo and phrases; `--train-parity DIR` to write one training step for
//! `bench/reference.py train-step` and print its loss terms. Cases: vgg16-b1, vgg16-b16,
//! efficientnet-lite0-b1, minilm-b1, minilm-b64, head-b16, train-step, matmul-1024, eval-dev
//! (see `bench/compare.py`).

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::tensor::{Device, Tensor};
use semground::encoders::ImageEncoderKind;
use semground::eval::run::{EvalOptions, evaluate};
use semground::eval::{Method, Protocol, Target, load_phrase_boxes};
use semground::model::Grounder;
use semground::photo::{self, PhotoLimits};
use semground::progress::Quiet;
use semground::train::train_step;

#[path = "../tests/common/train_step.rs"]
mod step;

// The command line's allocator, so that the timings are those users get.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The parity photo, already 224 x 224 so that no resize differs between the two sides.
const PHOTO: &str = "tests/data/parity/photo-224.png";
/// Phrases of the parity check.
const PARITY_PHRASES: [&str; 3] = ["a woman in a white space suit", "the flag", "a helmet"];

fn argument(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|arg| arg == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

/// Reads the tensor back, which forces the computation, as every real caller does.
fn read<const D: usize>(tensor: Tensor<D>) -> Vec<f32> {
    tensor
        .into_data()
        .try_into_vec::<f32>()
        .expect("a float tensor reads back")
}

/// Returns the process's peak resident memory in MB (`VmHWM` of `/proc/self/status`).
fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| {
            value
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<f64>()
                .ok()
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Returns the parity phrase file's phrases of at most 12 words, cycled to `count`.
fn phrases(root: &Path, count: usize) -> Vec<String> {
    let text = std::fs::read_to_string(root.join("tests/data/parity/phrases.json"))
        .expect("tests/data/parity/phrases.json exists");
    let file: serde_json::Value = serde_json::from_str(&text).expect("the phrase file is JSON");
    let list: Vec<String> = file["phrases"]
        .as_array()
        .expect("a phrases list")
        .iter()
        .filter_map(|p| p.as_str().map(str::to_owned))
        .filter(|p| p.split_whitespace().count() <= 12)
        .collect();
    list.iter().cycle().take(count).cloned().collect()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // The folder cargo runs the benchmark for. The value compiled in can name another clone
    // whose build cargo reused from a shared CARGO_TARGET_DIR.
    let root = PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
    );
    let device = Device::flex();
    let bytes = std::fs::read(root.join(PHOTO)).expect("the parity photo exists");
    let decoded = photo::decode("photo", &bytes, PhotoLimits::default()).expect("it decodes");

    if args.iter().any(|arg| arg == "--maps") {
        let mut maps = serde_json::Map::new();
        for kind in [ImageEncoderKind::Vgg16, ImageEncoderKind::EfficientNetLite0] {
            let grounder = Grounder::from_dir(&root.join("weights"), kind, None, &device)
                .expect("the weights load");
            let features = grounder.encode_photo(&decoded);
            let count = PARITY_PHRASES.len();
            let embeddings = grounder
                .encode_phrases(&PARITY_PHRASES)
                .expect("the phrases encode")
                .embeddings;
            let values = read(grounder.heatmaps(features, embeddings));
            let rows: Vec<Vec<f32>> = values
                .chunks(values.len() / count)
                .map(<[f32]>::to_vec)
                .collect();
            maps.insert(kind.name().into(), serde_json::json!(rows));
        }
        println!("{}", serde_json::Value::Object(maps));
        return;
    }

    if let Some(dir) = argument(&args, "--train-parity") {
        let log = step::write_parity_step(Path::new(&dir), step::DEFAULT_STEP);
        println!(
            "{}",
            serde_json::json!({"loss_common": log.loss_common, "loss_independent": log.loss_independent,
                "loss_total": log.loss_total, "correct": log.correct})
        );
        return;
    }

    let case = argument(&args, "--case").expect("pass --case NAME");
    let runs: usize = argument(&args, "--runs")
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let warmup: usize = argument(&args, "--warmup")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    // The evaluation loads its own model; every other case needs one encoder's.
    let kind = if case.starts_with("efficientnet") {
        ImageEncoderKind::EfficientNetLite0
    } else {
        ImageEncoderKind::Vgg16
    };
    let load = || {
        Grounder::from_dir(&root.join("weights"), kind, None, &device).expect("the weights load")
    };

    // Each case is a closure over prepared inputs; the timed part ends with a read-back.
    let input = photo::to_input(&decoded);
    let mut detail = serde_json::Value::Null;
    let mut work: Box<dyn FnMut() -> serde_json::Value> = match case.as_str() {
        "vgg16-b1" | "efficientnet-lite0-b1" | "vgg16-b16" => {
            let batch = if case.ends_with("b16") { 16 } else { 1 };
            let pixels = photo::batch_tensor(&vec![input.clone(); batch], &device);
            let grounder = load();
            Box::new(move || {
                read(grounder.image_encoder.forward(pixels.clone()));
                serde_json::Value::Null
            })
        }
        "minilm-b1" | "minilm-b64" => {
            let texts = phrases(&root, if case.ends_with("b64") { 64 } else { 1 });
            let grounder = load();
            Box::new(move || {
                read(
                    grounder
                        .encode_phrases(&texts)
                        .expect("phrases encode")
                        .embeddings,
                );
                serde_json::Value::Null
            })
        }
        "head-b16" => {
            let grounder = load();
            let features = grounder.encode_photo(&decoded);
            let texts = phrases(&root, 16);
            let embeddings = grounder
                .encode_phrases(&texts)
                .expect("phrases encode")
                .embeddings;
            Box::new(move || {
                read(grounder.heatmaps(features.clone(), embeddings.clone()));
                serde_json::Value::Null
            })
        }
        "train-step" => {
            // The trainer's step with its defaults: 16 concept batches of k = 9, 2000 concepts,
            // the loss `both`, Adam. Its four loss and accuracy values are read back.
            let (head, device) = step::fresh_head(step::DEFAULT_STEP, 0);
            let inputs = step::inputs(step::DEFAULT_STEP, &device);
            let mut head = Some(head);
            let mut optimizer = burn::optim::AdamConfig::new().init();
            Box::new(move || {
                let (trained, log) = train_step(
                    head.take().expect("a head between steps"),
                    &mut optimizer,
                    step::LEARNING_RATE,
                    semground::head::LossKind::Both,
                    inputs.clone(),
                )
                .expect("the step runs");
                head = Some(trained);
                serde_json::json!({"loss_total": log.loss_total, "correct": log.correct})
            })
        }
        "matmul-1024" => {
            // A plain f32 matrix product, to tell the backends' GEMM from their convolutions.
            let left = Tensor::<2>::ones([1024, 1024], &device);
            let right = Tensor::<2>::ones([1024, 1024], &device);
            Box::new(move || {
                read(left.clone().matmul(right.clone()));
                serde_json::Value::Null
            })
        }
        "eval-dev" => {
            let data_path = root.join("../shared/data/flickr30k-entities-dev/annotations.json");
            let (data, report) = load_phrase_boxes(&data_path).expect("the dev set loads");
            let cache =
                std::env::temp_dir().join(format!("semground-compare-{}", std::process::id()));
            let options = EvalOptions {
                method: Method::Model,
                protocol: Protocol::Paper,
                target: Target::Box,
                tolerance: 0.0,
                min_box_area: 0.0,
                seed: 0,
                images: data_path.with_file_name("images"),
                encoder: ImageEncoderKind::EfficientNetLite0,
                head: None,
                weights: root.join("weights"),
                cache,
            };
            Box::new(move || {
                // An empty cache each run: every photo and phrase is encoded, as PyTorch does.
                std::fs::remove_dir_all(&options.cache).ok();
                let result = evaluate(&data, report.clone(), Vec::new(), &options, &mut Quiet)
                    .expect("the evaluation runs");
                std::fs::remove_dir_all(&options.cache).ok();
                serde_json::json!({"phrases": result.total, "hits": result.hits})
            })
        }
        other => panic!("unknown case {other}; see bench/compare.py for the list"),
    };

    for _ in 0..warmup {
        work();
    }
    let mut seconds = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        detail = work();
        seconds.push(start.elapsed().as_secs_f64());
    }
    println!(
        "{}",
        serde_json::json!({"case": case, "seconds": seconds, "peak_rss_mb": peak_rss_mb(), "detail": detail})
    );
}
