//! COCO `instances_*.json` as a benchmark: each category present in a photo is a phrase,
//! with the boxes of its instances and their polygon or RLE masks.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;

use crate::data::pairs::read_json;
use crate::error::{Error, Result};
use crate::eval::boxes::{BenchmarkImage, BenchmarkPhrase, PHRASE_BOXES_FORMAT, PhraseBoxes};
use crate::eval::masks::{Mask, decode_rle_string};

#[derive(Deserialize)]
struct CocoInstances {
    images: Vec<CocoImage>,
    annotations: Vec<CocoInstance>,
    categories: Vec<CocoCategory>,
}

/// A photo of a COCO-style `images` list (COCO instances, RefCLEF `instances.json`).
#[derive(Deserialize)]
pub(crate) struct CocoImage {
    id: u64,
    file_name: String,
    width: u32,
    height: u32,
}

/// Builds an empty benchmark entry for every photo of `images`, and the index of each photo
/// id in that list.
pub(crate) fn benchmark_images(images: &[CocoImage]) -> (Vec<BenchmarkImage>, HashMap<u64, usize>) {
    let entries = images
        .iter()
        .map(|image| BenchmarkImage {
            file: image.file_name.clone(),
            width: image.width,
            height: image.height,
            phrases: Vec::new(),
        })
        .collect();
    let index = images
        .iter()
        .enumerate()
        .map(|(position, image)| (image.id, position))
        .collect();
    (entries, index)
}

#[derive(Deserialize)]
struct CocoInstance {
    image_id: u64,
    category_id: u64,
    /// `[x, y, width, height]` in pixels.
    bbox: [f64; 4],
    /// Polygons, or RLE for crowd regions; absent in box-only files.
    #[serde(default)]
    segmentation: Option<CocoSegmentation>,
}

/// COCO's two mask encodings.
#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum CocoSegmentation {
    /// Flat `[x1, y1, x2, y2, ...]` polygons.
    Polygons(Vec<Vec<f64>>),
    /// Run-length encoding, `size` = `[height, width]`.
    Rle { size: [u32; 2], counts: RleCounts },
}

/// RLE runs as a list (uncompressed) or as pycocotools' compressed string.
#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum RleCounts {
    List(Vec<u32>),
    Compressed(String),
}

impl CocoSegmentation {
    /// Converts to a [`Mask`], checking that RLE runs cover the photo exactly.
    pub(crate) fn into_mask(self) -> std::result::Result<Mask, String> {
        match self {
            CocoSegmentation::Polygons(polygons) => {
                if let Some(bad) = polygons.iter().find(|p| p.len() % 2 == 1) {
                    return Err(format!(
                        "a polygon has an odd number of coordinates ({})",
                        bad.len()
                    ));
                }
                Ok(Mask::Polygons(polygons))
            }
            CocoSegmentation::Rle {
                size: [height, width],
                counts,
            } => {
                let counts = match counts {
                    RleCounts::List(counts) => counts,
                    RleCounts::Compressed(text) => decode_rle_string(&text)?,
                };
                let covered: u64 = counts.iter().map(|&c| u64::from(c)).sum();
                if covered != u64::from(height) * u64::from(width) {
                    return Err(format!(
                        "RLE runs cover {covered} pixels, but size {height} x {width} has {}",
                        u64::from(height) * u64::from(width)
                    ));
                }
                Ok(Mask::Rle {
                    height,
                    width,
                    counts,
                })
            }
        }
    }
}

#[derive(Deserialize)]
struct CocoCategory {
    id: u64,
    name: String,
}

/// Reads COCO `instances_*.json` as a benchmark: in each photo, every category present is a
/// phrase (its name, such as "person"), and every instance of it is one of its boxes, with
/// its polygon or RLE mask for `--target mask`.
pub fn load_coco_instances(path: &Path) -> Result<PhraseBoxes> {
    build_benchmark(&path.display().to_string(), read_json(path)?)
}

/// Parses the text of a COCO instances file as [`load_coco_instances`] reads it; `label`
/// names the file in errors.
pub fn parse_coco_instances(label: &str, text: &str) -> Result<PhraseBoxes> {
    let file = serde_json::from_str(text).map_err(|error| Error::Data {
        location: format!("{label}:{}:{}", error.line(), error.column()),
        detail: format!("not a COCO instances file ({error})"),
    })?;
    build_benchmark(label, file)
}

fn build_benchmark(label: &str, file: CocoInstances) -> Result<PhraseBoxes> {
    let names: HashMap<u64, &str> = file
        .categories
        .iter()
        .map(|c| (c.id, c.name.as_str()))
        .collect();
    let (mut images, index) = benchmark_images(&file.images);
    for (position, mut instance) in file.annotations.into_iter().enumerate() {
        let location = || format!("{label}: annotations[{position}]");
        let &slot = index.get(&instance.image_id).ok_or_else(|| Error::Data {
            location: location(),
            detail: format!("image_id {} is not in `images`", instance.image_id),
        })?;
        let name = names
            .get(&instance.category_id)
            .ok_or_else(|| Error::Data {
                location: location(),
                detail: format!(
                    "category_id {} is not in `categories`",
                    instance.category_id
                ),
            })?;
        let [x, y, width, height] = instance.bbox;
        let bounds = [x, y, x + width, y + height];
        let mask = match instance.segmentation.take() {
            Some(segmentation) => Some(segmentation.into_mask().map_err(|detail| Error::Data {
                location: format!("{}.segmentation", location()),
                detail,
            })?),
            None => None,
        };
        let phrases = &mut images[slot].phrases;
        let phrase = match phrases.iter().position(|phrase| phrase.phrase == *name) {
            Some(found) => &mut phrases[found],
            None => {
                phrases.push(BenchmarkPhrase {
                    phrase: (*name).to_string(),
                    boxes: Vec::new(),
                    masks: Vec::new(),
                });
                phrases.last_mut().expect("just pushed")
            }
        };
        phrase.boxes.push(bounds);
        phrase.masks.extend(mask);
    }
    images.retain(|image| !image.phrases.is_empty());
    Ok(PhraseBoxes {
        format: PHRASE_BOXES_FORMAT.into(),
        images,
    })
}
