//! End-to-end check that training teaches the head to ground phrases. The test draws photos
//! of two coloured shapes on noisy backgrounds, with captions naming one shape each ("a red
//! square"). It trains briefly on the CPU from the captions alone, then plays the pointing
//! game on held-out photos against the shapes' boxes.

mod common;

use std::path::PathBuf;

use burn::tensor::Device;
use common::{Shape, caption, make_set};
use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;
use semground::data::{PairFormat, PhraseUnit};
use semground::encoders::ImageEncoderKind;
use semground::eval::{Protocol, center_point, is_hit, map_point};
use semground::head::LossKind;
use semground::model::Grounder;
use semground::progress::Quiet;
use semground::train::run::{TrainOptions, train};
use semground::train::{TrainConfig, export_inference_head};

#[test]
fn training_beats_center_baseline() {
    let root = std::env::temp_dir().join(format!("semground-learning-{}", std::process::id()));
    let images = root.join("images");
    std::fs::create_dir_all(&images).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let training = make_set(&images, "train", 240, &mut rng);
    let held_out = make_set(&images, "test", 60, &mut rng);

    let mut tsv = String::from("image\tcaption\n");
    for (name, shapes) in &training {
        for shape in shapes {
            tsv.push_str(&format!("{name}\t{}\n", caption(shape)));
        }
    }
    std::fs::write(root.join("captions.tsv"), tsv).unwrap();

    let weights = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("weights");
    let options = TrainOptions {
        config: TrainConfig {
            pairs: root.join("captions.tsv"),
            format: PairFormat::Tsv,
            images: images.clone(),
            phrases: PhraseUnit::Captions,
            image_encoder: ImageEncoderKind::EfficientNetLite0,
            k: 5,
            loss: LossKind::Both,
            concepts: 20,
            epochs: 12,
            learning_rate: 1e-3,
            batch_size: 8,
            seed: 3,
            skip_bad: false,
        },
        out: root.join("run"),
        weights: weights.clone(),
        cache: root.join("cache"),
        resume: false,
        device: Device::flex(),
    };
    let summary = train(&options, &mut Quiet).unwrap();
    let head = summary.head.expect("a head after training");
    let last = summary.epochs.last().unwrap();
    println!(
        "last epoch: loss {:.3}, concept accuracy {:.1}%",
        last.loss_total, last.concept_accuracy
    );

    let device = Device::flex();
    let grounder = Grounder::from_dir(
        &weights,
        ImageEncoderKind::EfficientNetLite0,
        Some(&head),
        &device,
    )
    .unwrap();
    let (maps, hits, center_hits, total) = pointing_game(&grounder, &images, &held_out);
    let accuracy = 100.0 * hits as f64 / total as f64;
    let center = 100.0 * center_hits as f64 / total as f64;
    println!(
        "pointing game on {total} held-out phrases: model {accuracy:.1}%, center baseline {center:.1}%"
    );

    // The shipped form of a head keeps only the attention, in f16: it must give the same maps
    // up to f16 rounding.
    let exported = root.join("head-inference.safetensors");
    let sizes = export_inference_head(&head, &exported, &device).unwrap();
    let inference = Grounder::from_dir(
        &weights,
        ImageEncoderKind::EfficientNetLite0,
        Some(&exported),
        &device,
    )
    .unwrap();
    let (exported_maps, exported_hits, _, _) = pointing_game(&inference, &images, &held_out);
    let worst = maps
        .iter()
        .zip(&exported_maps)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    println!(
        "exported head: {} of {} bytes, {exported_hits} hits against {hits}, max |map difference| {worst:.2e} (tolerance 2e-3)",
        sizes.exported_bytes, sizes.full_bytes
    );
    std::fs::remove_dir_all(&root).unwrap();
    assert!(
        accuracy >= center + 30.0,
        "model {accuracy:.1}% does not beat the center baseline {center:.1}% by 30 points"
    );
    assert!(
        worst <= 2e-3,
        "exported head's maps differ by {worst:.2e}, above the tolerance 2e-3"
    );
    // f16 halves the attention's bytes and the decoder is dropped.
    assert!(
        sizes.exported_bytes * 2 < sizes.full_bytes,
        "exported head has {} bytes, not under half of the full head's {}",
        sizes.exported_bytes,
        sizes.full_bytes
    );
}

/// Plays the pointing game (paper protocol) on `photos`; returns every map, the model's hits,
/// the center baseline's hits and the number of phrases.
fn pointing_game(
    grounder: &Grounder,
    images: &std::path::Path,
    photos: &[(String, Vec<Shape>)],
) -> (Vec<f32>, usize, usize, usize) {
    let (mut all_maps, mut hits, mut center_hits, mut total) = (Vec::new(), 0, 0, 0);
    for (name, shapes) in photos {
        let photo = image::open(images.join(name)).unwrap().to_rgb8();
        let features = grounder.encode_photo(&photo);
        let phrases: Vec<String> = shapes.iter().map(caption).collect();
        let embeddings = grounder.encode_phrases(&phrases).unwrap().embeddings;
        let maps: Vec<f32> = grounder
            .heatmaps(features, embeddings)
            .into_data()
            .try_into_vec()
            .unwrap();
        for (shape, map) in shapes.iter().zip(maps.chunks(49)) {
            total += 1;
            hits += usize::from(is_hit(
                map_point(map, 224, 224, Protocol::Paper),
                &[shape.bounds],
                0.0,
            ));
            center_hits += usize::from(is_hit(center_point(224, 224), &[shape.bounds], 0.0));
        }
        all_maps.extend(maps);
    }
    (all_maps, hits, center_hits, total)
}
