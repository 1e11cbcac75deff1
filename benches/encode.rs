//! Benchmark of encoding one photo and one phrase natively (CPU backend, flex).
//!
//! Run with `cargo bench --bench encode` (release profile). Prints the median, minimum and
//! mean wall time of each stage over repeated runs after warm-up runs; `--runs N` changes
//! the count (default 10).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use burn::tensor::{Device, Tensor};
use semground::encoders::ImageEncoderKind;
use semground::model::Grounder;
use semground::photo::{self, PhotoLimits};

// The command line's allocator, so that the timings are those users get.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const WARM_UP: usize = 2;

fn measure(label: &str, runs: usize, mut work: impl FnMut()) {
    for _ in 0..WARM_UP {
        work();
    }
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            work();
            start.elapsed()
        })
        .collect();
    times.sort();
    let mean = times.iter().sum::<Duration>() / runs as u32;
    println!(
        "{label:<44} median {:>9.2} ms   min {:>9.2} ms   mean {:>9.2} ms   ({runs} runs)",
        times[runs / 2].as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3,
        mean.as_secs_f64() * 1e3
    );
}

/// Forces the computation by reading the tensor back, as every real caller does.
fn read<const D: usize>(tensor: Tensor<D>) {
    let data = tensor.into_data();
    std::hint::black_box(data);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let runs = args
        .iter()
        .position(|arg| arg == "--runs")
        .and_then(|i| args.get(i + 1))
        .and_then(|value| value.parse().ok())
        .unwrap_or(10usize)
        .max(1);

    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let photo_path = root.join("tests/data/parity/photo-224.png");
    let bytes = std::fs::read(&photo_path).expect("the benchmark photo exists");
    let device = Device::flex();
    println!(
        "semground encode benchmark: CPU backend (flex), {} threads available",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );

    for kind in [ImageEncoderKind::Vgg16, ImageEncoderKind::EfficientNetLite0] {
        let start = Instant::now();
        let grounder =
            Grounder::from_dir(&root.join("weights"), kind, None, &device).expect("weights load");
        println!(
            "{:<44} {:>9.2} ms",
            format!("load weights ({kind} + MiniLM)"),
            start.elapsed().as_secs_f64() * 1e3
        );

        measure("decode photo (224 x 224 PNG, no resize)", runs, || {
            let decoded = photo::decode("photo", &bytes, PhotoLimits::default()).unwrap();
            std::hint::black_box(photo::to_input(&decoded));
        });
        let decoded = photo::decode("photo", &bytes, PhotoLimits::default()).unwrap();
        measure(&format!("encode photo, {kind}, batch 1"), runs, || {
            read(grounder.encode_photo(&decoded))
        });
        measure("encode phrase, MiniLM, batch 1", runs, || {
            read(
                grounder
                    .encode_phrases(&["a woman in a white space suit"])
                    .unwrap()
                    .embeddings,
            )
        });
        let features = grounder.encode_photo(&decoded);
        let phrase = grounder
            .encode_phrases(&["a woman in a white space suit"])
            .unwrap()
            .embeddings;
        measure(&format!("head attention, {kind}, 1 phrase"), runs, || {
            read(grounder.heatmaps(features.clone(), phrase.clone()))
        });
    }
}
