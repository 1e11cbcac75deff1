//! The `phrase-boxes/1` benchmark format: photos with phrases and their ground-truth boxes.
//!
//! ```json
//! {"format": "phrase-boxes/1", "box_format": "xyxy, 0-based pixels, max exclusive",
//!  "images": [{"file": "a.jpg", "width": 375, "height": 500,
//!              "phrases": [{"phrase": "a pink dress", "boxes": [[7, 190, 86, 299]]}]}]}
//! ```

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::masks::Mask;
use super::pointing::BoxXyxy;
use crate::error::{Error, Result};

/// Tag of the format.
pub const PHRASE_BOXES_FORMAT: &str = "phrase-boxes/1";

/// A whole benchmark file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PhraseBoxes {
    /// Always [`PHRASE_BOXES_FORMAT`].
    pub format: String,
    /// The photos.
    pub images: Vec<BenchmarkImage>,
}

/// One photo and its phrases.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchmarkImage {
    /// File name relative to the images folder.
    pub file: String,
    /// Width in pixels, as annotated.
    pub width: u32,
    /// Height in pixels, as annotated.
    pub height: u32,
    /// The phrases of this photo.
    pub phrases: Vec<BenchmarkPhrase>,
}

/// One phrase and every box it refers to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchmarkPhrase {
    /// The phrase text.
    pub phrase: String,
    /// Boxes `[x_min, y_min, x_max, y_max]`, pixels, max exclusive.
    pub boxes: Vec<BoxXyxy>,
    /// Segmentation masks of the same objects, where the benchmark has them (COCO,
    /// RefCLEF); scored with `--target mask`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub masks: Vec<Mask>,
}

/// Problems found and repaired while loading.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BoxReport {
    /// Boxes partly outside their photo, clipped to it.
    pub clipped: usize,
    /// Boxes with no area (after clipping), as `file: phrase`; they can never be hit.
    pub zero_area: Vec<String>,
}

/// Reads a `phrase-boxes/1` file, clipping boxes to their photos and reporting empty ones.
pub fn load_phrase_boxes(path: &Path) -> Result<(PhraseBoxes, BoxReport)> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| Error::io("failed to read", path, source))?;
    parse_phrase_boxes(&path.display().to_string(), &text)
}

/// Parses the text of a `phrase-boxes/1` file; `label` names the file in errors.
pub fn parse_phrase_boxes(label: &str, text: &str) -> Result<(PhraseBoxes, BoxReport)> {
    let mut data: PhraseBoxes = serde_json::from_str(text).map_err(|error| Error::Data {
        location: format!("{label}:{}:{}", error.line(), error.column()),
        detail: format!("not a {PHRASE_BOXES_FORMAT} file ({error})"),
    })?;
    if data.format != PHRASE_BOXES_FORMAT {
        return Err(Error::Data {
            location: label.to_string(),
            detail: format!(
                "format is {:?}, expected {PHRASE_BOXES_FORMAT:?}",
                data.format
            ),
        });
    }
    let report = repair_boxes(&mut data);
    Ok((data, report))
}

/// Clips every box to its photo and lists the boxes left without area.
pub fn repair_boxes(data: &mut PhraseBoxes) -> BoxReport {
    let mut report = BoxReport::default();
    for image in &mut data.images {
        let (width, height) = (f64::from(image.width), f64::from(image.height));
        for phrase in &mut image.phrases {
            for bounds in &mut phrase.boxes {
                let clipped = [
                    bounds[0].clamp(0.0, width),
                    bounds[1].clamp(0.0, height),
                    bounds[2].clamp(0.0, width),
                    bounds[3].clamp(0.0, height),
                ];
                if clipped != *bounds {
                    report.clipped += 1;
                    *bounds = clipped;
                }
                if bounds[2] <= bounds[0] || bounds[3] <= bounds[1] {
                    report
                        .zero_area
                        .push(format!("{}: {}", image.file, phrase.phrase));
                }
            }
        }
    }
    report
}
