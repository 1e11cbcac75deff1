//! Scoring of one benchmark photo: which phrases count, and whether each point is a hit. The
//! native evaluator (`semground eval`) and the web page's evaluator both call
//! [`score_image`], so they apply the same filters in the same order.

use serde::Serialize;

use super::boxes::BenchmarkImage;
use super::masks::hits_mask;
use super::pointing::{Target, is_hit};

/// The settings of the pointing game that decide what a hit is.
#[derive(Debug, Clone, Copy)]
pub struct HitRule {
    /// Hit target: a box or a mask of the phrase.
    pub target: Target,
    /// Pixels around a box that still count as a hit (0 for the strict game).
    pub tolerance: f64,
    /// Boxes smaller than this share of the photo's area are ignored, and phrases left
    /// without a box are skipped (0 keeps everything).
    pub min_box_area: f64,
}

/// The outcome of one phrase.
#[derive(Debug, Clone, Serialize)]
pub struct PhraseOutcome {
    /// Photo file name.
    pub file: String,
    /// The phrase.
    pub phrase: String,
    /// Whether the point hit a box.
    pub hit: bool,
    /// The predicted point in photo pixels.
    pub point: [f64; 2],
    /// Area of the phrase's largest box as a share of the photo's area.
    pub box_area: f64,
}

/// The outcomes of one photo's phrases, and the phrases left out.
#[derive(Debug, Clone, Default)]
pub struct ImageScore {
    /// One outcome per scored phrase, in benchmark order.
    pub outcomes: Vec<PhraseOutcome>,
    /// Phrases left out because no box reaches the minimum area.
    pub skipped_small: usize,
    /// Phrases left out because they have no mask (mask target only).
    pub skipped_without_mask: usize,
}

/// Scores every phrase of `image`. `point_of(index)` gives the point predicted for the
/// phrase at `index`. It is called only for the phrases that are scored, in order, so a seeded
/// random baseline draws the same sequence wherever it runs.
pub fn score_image(
    image: &BenchmarkImage,
    rule: HitRule,
    mut point_of: impl FnMut(usize) -> [f64; 2],
) -> ImageScore {
    let mut score = ImageScore::default();
    let area = f64::from(image.width) * f64::from(image.height);
    for (index, phrase) in image.phrases.iter().enumerate() {
        let boxes: Vec<_> = phrase
            .boxes
            .iter()
            .copied()
            .filter(|b| (b[2] - b[0]) * (b[3] - b[1]) >= rule.min_box_area * area)
            .collect();
        if boxes.is_empty() {
            score.skipped_small += 1;
            continue;
        }
        if rule.target == Target::Mask && phrase.masks.is_empty() {
            score.skipped_without_mask += 1;
            continue;
        }

        let point = point_of(index);
        let box_area = boxes
            .iter()
            .map(|b| (b[2] - b[0]) * (b[3] - b[1]))
            .fold(0.0, f64::max)
            / area;
        score.outcomes.push(PhraseOutcome {
            file: image.file.clone(),
            phrase: phrase.phrase.clone(),
            hit: match rule.target {
                Target::Box => is_hit(point, &boxes, rule.tolerance),
                Target::Mask => hits_mask(point, &phrase.masks, rule.tolerance),
            },
            point,
            box_area,
        });
    }
    score
}

/// Computes hits / total in percent, 0 when nothing was scored.
pub fn accuracy_percent(hits: usize, total: usize) -> f64 {
    if total == 0 {
        0.0
    } else {
        100.0 * hits as f64 / total as f64
    }
}

/// Computes the 95% Wilson score interval of `hits` out of `total`, in percent.
pub fn wilson_interval(hits: usize, total: usize) -> [f64; 2] {
    if total == 0 {
        return [0.0, 0.0];
    }
    let (n, p, z) = (
        total as f64,
        hits as f64 / total as f64,
        1.959_963_984_540_054,
    );
    let centre = (p + z * z / (2.0 * n)) / (1.0 + z * z / n);
    let half = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / (1.0 + z * z / n);
    [
        100.0 * (centre - half).max(0.0),
        100.0 * (centre + half).min(1.0),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::boxes::BenchmarkPhrase;

    #[test]
    fn small_boxes_are_skipped_before_points_are_drawn() {
        let phrase = |name: &str, bounds| BenchmarkPhrase {
            phrase: name.into(),
            boxes: vec![bounds],
            masks: Vec::new(),
        };
        let image = BenchmarkImage {
            file: "a.jpg".into(),
            width: 100,
            height: 100,
            phrases: vec![
                phrase("tiny", [0.0, 0.0, 2.0, 2.0]),
                phrase("big", [0.0, 0.0, 60.0, 60.0]),
            ],
        };
        let rule = HitRule {
            target: Target::Box,
            tolerance: 0.0,
            min_box_area: 0.01,
        };
        let mut requested = Vec::new();
        let score = score_image(&image, rule, |index| {
            requested.push(index);
            [30.0, 30.0]
        });
        assert_eq!(requested, [1]);
        assert_eq!(score.skipped_small, 1);
        assert_eq!(score.outcomes.len(), 1);
        assert!(score.outcomes[0].hit);
        assert!((score.outcomes[0].box_area - 0.36).abs() < 1e-12);
    }
}
