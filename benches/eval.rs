//! Benchmark of evaluation throughput, in phrases per second: the pointing game of the model
//! on the Flickr30k Entities dev set. The first run starts with an empty feature cache, so
//! every photo and phrase is encoded. The second reads the cache that run filled, so only the
//! head runs.
//!
//! Run with `cargo bench --bench eval` (release profile). `--encoder vgg16|efficientnet-lite0`
//! picks the image encoder (default: both). Needs `../shared/data/flickr30k-entities-dev`;
//! without it the benchmark prints that the data set is missing and exits.

use std::path::PathBuf;
use std::time::Instant;

use semground::encoders::ImageEncoderKind;
use semground::eval::run::{EvalOptions, evaluate};
use semground::eval::{Method, Protocol, Target, load_phrase_boxes};
use semground::progress::Quiet;

// The command line's allocator, so that the timings are those users get.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let chosen = args
        .iter()
        .position(|arg| arg == "--encoder")
        .and_then(|i| args.get(i + 1))
        .cloned();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let data_path = root.join("../shared/data/flickr30k-entities-dev/annotations.json");
    if !data_path.exists() {
        println!(
            "skipped: {} is missing (the Flickr30k Entities dev set)",
            data_path.display()
        );
        return;
    }
    let (data, report) = load_phrase_boxes(&data_path).expect("the dev set loads");
    let cache = std::env::temp_dir().join(format!("semground-eval-bench-{}", std::process::id()));
    println!(
        "semground eval benchmark: {} photos, CPU backend (flex), {} threads available",
        data.images.len(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );

    for encoder in [ImageEncoderKind::Vgg16, ImageEncoderKind::EfficientNetLite0] {
        if chosen.as_deref().is_some_and(|name| name != encoder.name()) {
            continue;
        }
        let options = EvalOptions {
            method: Method::Model,
            protocol: Protocol::Paper,
            target: Target::Box,
            tolerance: 0.0,
            min_box_area: 0.0,
            seed: 0,
            images: data_path.with_file_name("images"),
            encoder,
            head: None,
            weights: root.join("weights"),
            cache: cache.clone(),
        };
        for label in ["features not cached", "features cached"] {
            let start = Instant::now();
            let result = evaluate(&data, report.clone(), Vec::new(), &options, &mut Quiet)
                .expect("the evaluation runs");
            let seconds = start.elapsed().as_secs_f64();
            println!(
                "{:<20} {label:<20} {:>6} phrases in {:>8.2} s: {:>9.1} phrases/s (accuracy {:.2}%)",
                encoder.name(),
                result.total,
                seconds,
                result.total as f64 / seconds,
                result.accuracy
            );
        }
    }
    std::fs::remove_dir_all(&cache).ok();
}
