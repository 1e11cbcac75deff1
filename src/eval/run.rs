//! A whole pointing-game evaluation of one method on one benchmark: what `semground eval`
//! executes.

use std::path::PathBuf;

use burn::tensor::{Device, Tensor, TensorData};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use serde::Serialize;

use super::boxes::{BoxReport, PhraseBoxes};
use super::pointing::{Method, Protocol, Target, center_point, channel_mean, map_point};
use super::score::{HitRule, PhraseOutcome, accuracy_percent, score_image, wilson_interval};
use crate::cache::FeatureCache;
use crate::encoders::ImageEncoderKind;
use crate::error::{Error, Result};
use crate::features::{FeatureTable, photo_features, phrase_features};
use crate::ground::{GRID, cell_center};
use crate::model::Grounder;
use crate::progress::Progress;

/// How to evaluate.
#[derive(Debug, Clone)]
pub struct EvalOptions {
    /// Source of the points.
    pub method: Method,
    /// Projection from maps to points.
    pub protocol: Protocol,
    /// Hit target: a box or a mask of the phrase.
    pub target: Target,
    /// Pixels around a box that still count as a hit (0 for the strict game).
    pub tolerance: f64,
    /// Boxes smaller than this share of the photo's area are ignored, and phrases left
    /// without a box are skipped (0 keeps everything).
    pub min_box_area: f64,
    /// Seed of the random baseline.
    pub seed: u64,
    /// Folder the benchmark's file names are relative to.
    pub images: PathBuf,
    /// Frozen image encoder (model and visual methods).
    pub encoder: ImageEncoderKind,
    /// Head weights (model method); `None` uses the shipped head.
    pub head: Option<PathBuf>,
    /// Folder with the frozen weights.
    pub weights: PathBuf,
    /// Feature cache folder.
    pub cache: PathBuf,
}

/// Accuracy and everything needed to judge it.
#[derive(Debug, Clone, Serialize)]
pub struct EvalResult {
    /// The method evaluated.
    pub method: Method,
    /// The projection protocol.
    pub protocol: Protocol,
    /// Hit target.
    pub target: Target,
    /// Hit tolerance in pixels.
    pub tolerance: f64,
    /// Minimum box area as a share of the photo (0 for none).
    pub min_box_area: f64,
    /// Image encoder used (model and visual methods).
    pub encoder: Option<ImageEncoderKind>,
    /// Hits / total, in percent.
    pub accuracy: f64,
    /// 95% Wilson score interval of the accuracy, in percent.
    pub confidence_95: [f64; 2],
    /// Phrases whose point hit a box.
    pub hits: usize,
    /// Phrases scored.
    pub total: usize,
    /// Photos not found or not decodable; their phrases are not scored.
    pub missing_images: usize,
    /// Names of those photos.
    pub missing_image_names: Vec<String>,
    /// Phrases left out by the minimum box area.
    pub skipped_small: usize,
    /// Phrases left out because they have no mask (with `--target mask` only).
    pub skipped_without_mask: usize,
    /// Boxes clipped to their photo and empty boxes found while loading.
    pub boxes: BoxReport,
    /// Per-phrase outcomes, in benchmark order.
    #[serde(skip)]
    pub outcomes: Vec<PhraseOutcome>,
}

fn needs_photos(method: Method) -> bool {
    matches!(method, Method::Model | Method::Visual)
}

/// Plays the pointing game on `data` with `options`. `unsized_photos` lists photos the loader
/// already dropped (unknown size); they are counted as missing.
pub fn evaluate(
    data: &PhraseBoxes,
    report: BoxReport,
    unsized_photos: Vec<String>,
    options: &EvalOptions,
    progress: &mut dyn Progress,
) -> Result<EvalResult> {
    let device = Device::flex();
    let cache = FeatureCache::new(&options.cache);
    let has_masks = data
        .images
        .iter()
        .any(|image| image.phrases.iter().any(|p| !p.masks.is_empty()));
    if options.target == Target::Mask && !has_masks {
        return Err(Error::Data {
            location: "--target mask".into(),
            detail: "the benchmark has no masks; use --target box, or a COCO instances or RefCLEF benchmark, which carry masks".into(),
        });
    }

    // Frozen features where the method needs them.
    let mut grounder = None;
    let mut photos = FeatureTable::default();
    let mut missing_image_names = unsized_photos;
    if needs_photos(options.method) {
        let loaded = Grounder::from_dir(
            &options.weights,
            options.encoder,
            options.head.as_deref(),
            &device,
        )?;
        if options.method == Method::Model && !loaded.head_file.trained {
            progress.note(
                "warning: the head is untrained (random weights); pass --head with a trained one",
            );
        }
        let names: Vec<String> = data.images.iter().map(|image| image.file.clone()).collect();
        progress.start(&format!("{} features", options.encoder), names.len());
        let (table, unusable) = photo_features(
            &loaded.image_encoder,
            &options.images,
            &names,
            &cache,
            &device,
            &mut |done| progress.set(done),
        )?;
        progress.finish();
        photos = table;
        missing_image_names.extend(
            unusable
                .iter()
                .map(|u| format!("{} ({})", u.name, u.reason)),
        );
        grounder = Some(loaded);
    }
    let mut phrases = FeatureTable::default();
    if let (Method::Model, Some(grounder)) = (options.method, &grounder) {
        let texts: Vec<String> = data
            .images
            .iter()
            .flat_map(|image| image.phrases.iter().map(|p| p.phrase.clone()))
            .collect();
        let distinct: std::collections::HashSet<&String> = texts.iter().collect();
        progress.start("phrase features", distinct.len());
        phrases = phrase_features(
            &grounder.phrase_encoder,
            &texts,
            &cache,
            &device,
            &mut |done| progress.set(done),
        )?;
        progress.finish();
    }

    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    let mut outcomes = Vec::new();
    let mut skipped_small = 0;
    let mut skipped_without_mask = 0;
    progress.start("pointing game", data.images.len());
    for (index, image) in data.images.iter().enumerate() {
        progress.set(index);
        let (width, height) = (image.width, image.height);
        let features = photos.get(&image.file);
        if needs_photos(options.method) && features.is_none() {
            continue;
        }

        // The model's maps for all phrases of this photo at once.
        let model_maps: Vec<f32> = match (options.method, &grounder, features) {
            (Method::Model, Some(grounder), Some(features)) => {
                let texts: Vec<&str> = image.phrases.iter().map(|p| p.phrase.as_str()).collect();
                let channels = photos.dim / (GRID * GRID);
                let image_map = Tensor::<4>::from_data(
                    TensorData::new(features.to_vec(), [1, channels, GRID, GRID]),
                    &device,
                );
                let maps = grounder.heatmaps(image_map, phrases.stack(&texts, &device));
                maps.into_data()
                    .try_into_vec::<f32>()
                    .map_err(|error| Error::Readback(format!("{error:?}")))?
            }
            _ => Vec::new(),
        };

        let rule = HitRule {
            target: options.target,
            tolerance: options.tolerance,
            min_box_area: options.min_box_area,
        };
        let score = score_image(image, rule, |phrase_index| match options.method {
            Method::Model => map_point(
                &model_maps[phrase_index * 49..(phrase_index + 1) * 49],
                width,
                height,
                options.protocol,
            ),
            Method::Visual => map_point(
                &channel_mean(features.unwrap_or_default()),
                width,
                height,
                options.protocol,
            ),
            Method::Center => center_point(width, height),
            Method::Random => {
                let cell = rng.random_range(0..GRID * GRID);
                cell_center([cell / GRID, cell % GRID], width, height)
            }
        });
        skipped_small += score.skipped_small;
        skipped_without_mask += score.skipped_without_mask;
        outcomes.extend(score.outcomes);
    }
    progress.finish();

    let hits = outcomes.iter().filter(|o| o.hit).count();
    let total = outcomes.len();
    Ok(EvalResult {
        method: options.method,
        protocol: options.protocol,
        target: options.target,
        tolerance: options.tolerance,
        min_box_area: options.min_box_area,
        encoder: needs_photos(options.method).then_some(options.encoder),
        accuracy: accuracy_percent(hits, total),
        confidence_95: wilson_interval(hits, total),
        hits,
        total,
        missing_images: missing_image_names.len(),
        missing_image_names,
        skipped_small,
        skipped_without_mask,
        boxes: report,
        outcomes,
    })
}
