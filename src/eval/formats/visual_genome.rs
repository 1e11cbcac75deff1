//! Visual Genome as a benchmark: region descriptions or region graphs, each region's phrase
//! with its box.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;

use crate::data::pairs::{VgImage, read_json};
use crate::error::{Error, Result};
use crate::eval::boxes::{BenchmarkImage, BenchmarkPhrase, PHRASE_BOXES_FORMAT, PhraseBoxes};

#[derive(Deserialize)]
struct VgImageData {
    #[serde(alias = "image_id")]
    id: u64,
    width: u32,
    height: u32,
}

/// Size of a photo from its header, without decoding pixels.
fn photo_size(path: &Path) -> Option<(u32, u32)> {
    image::ImageReader::open(path)
        .ok()?
        .with_guessed_format()
        .ok()?
        .into_dimensions()
        .ok()
}

/// Reads Visual Genome regions (`region_descriptions.json` or region graphs) as a benchmark.
/// Photo sizes come from `image_data.json` beside `path` when present, else from the photo
/// files `{image_id}.jpg` in `images`; photos of unknown size are returned as missing.
pub fn load_visual_genome(path: &Path, images: &Path) -> Result<(PhraseBoxes, Vec<String>)> {
    let entries: Vec<VgImage> = read_json(path)?;
    let image_data = path.with_file_name("image_data.json");
    let sizes: HashMap<u64, (u32, u32)> = if image_data.exists() {
        let data: Vec<VgImageData> = read_json(&image_data)?;
        data.into_iter()
            .map(|image| (image.id, (image.width, image.height)))
            .collect()
    } else {
        HashMap::new()
    };

    let mut by_image: Vec<(u64, Vec<BenchmarkPhrase>)> = Vec::new();
    let mut index: HashMap<u64, usize> = HashMap::new();
    for (entry_index, entry) in entries.iter().enumerate() {
        for (region_index, region) in entry.regions.iter().enumerate() {
            let location = || {
                format!(
                    "{}: [{entry_index}].regions[{region_index}]",
                    path.display()
                )
            };
            let id = region
                .image_id
                .or(region.image)
                .or(entry.id)
                .or(entry.image_id)
                .ok_or_else(|| Error::Data {
                    location: location(),
                    detail: "no image_id on the region or its image".into(),
                })?;
            let (Some(x), Some(y), Some(width), Some(height)) =
                (region.x, region.y, region.width, region.height)
            else {
                return Err(Error::Data {
                    location: location(),
                    detail: "the region has no x, y, width and height".into(),
                });
            };
            let phrase = region.phrase.as_deref().map(str::trim).unwrap_or_default();
            if phrase.is_empty() {
                continue;
            }
            let slot = *index.entry(id).or_insert_with(|| {
                by_image.push((id, Vec::new()));
                by_image.len() - 1
            });
            by_image[slot].1.push(BenchmarkPhrase {
                phrase: phrase.to_string(),
                boxes: vec![[x, y, x + width, y + height]],
                masks: Vec::new(),
            });
        }
    }

    let mut missing = Vec::new();
    let mut images_out = Vec::new();
    for (id, phrases) in by_image {
        let file = format!("{id}.jpg");
        let size = sizes
            .get(&id)
            .copied()
            .or_else(|| photo_size(&images.join(&file)));
        match size {
            Some((width, height)) => images_out.push(BenchmarkImage {
                file,
                width,
                height,
                phrases,
            }),
            None => missing.push(format!(
                "{file} (not found, and no image_data.json gives its size)"
            )),
        }
    }
    Ok((
        PhraseBoxes {
            format: PHRASE_BOXES_FORMAT.into(),
            images: images_out,
        },
        missing,
    ))
}
