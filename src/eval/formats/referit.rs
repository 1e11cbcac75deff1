//! ReferIt (RefCLEF) as a benchmark, in the layout of the `refer` toolkit: `refs(NAME).p`, a
//! Python pickle listing referring expressions (each naming one annotated object and
//! carrying several sentences), and `instances.json` beside it, COCO-style, with the
//! objects' boxes and segmentation masks. Every sentence of a ref is one phrase, scored
//! against its object's box (`--target box`) or mask (`--target mask`).

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;

use super::coco::{CocoImage, CocoSegmentation, benchmark_images};
use crate::data::pairs::read_json;
use crate::error::{Error, Result};
use crate::eval::boxes::{BenchmarkPhrase, PHRASE_BOXES_FORMAT, PhraseBoxes};

#[derive(Deserialize)]
struct Ref {
    image_id: u64,
    ann_id: u64,
    split: String,
    sentences: Vec<RefSentence>,
}

#[derive(Deserialize)]
struct RefSentence {
    /// Lower-cased, tokenised text, as published results use.
    #[serde(default)]
    sent: Option<String>,
    /// The text as typed.
    #[serde(default)]
    raw: Option<String>,
}

#[derive(Deserialize)]
struct Instances {
    images: Vec<CocoImage>,
    annotations: Vec<Instance>,
}

#[derive(Deserialize)]
struct Instance {
    id: u64,
    /// `[x, y, width, height]` in pixels.
    bbox: [f64; 4],
    #[serde(default)]
    segmentation: Option<CocoSegmentation>,
}

/// Reads the refs pickle at `path` and `instances.json` beside it. `split` keeps only refs
/// of that split (`train`, `val`, `test`, ...); `None` keeps all. Photo file names are the
/// instances' `file_name`s.
pub fn load_referit(path: &Path, split: Option<&str>) -> Result<PhraseBoxes> {
    let bytes = std::fs::read(path).map_err(|source| Error::io("failed to read", path, source))?;
    // Pickles written by Python 2 store text as bytes; decode it as UTF-8.
    let options = serde_pickle::DeOptions::new().decode_strings();
    let refs: Vec<Ref> =
        serde_pickle::from_slice(&bytes, options).map_err(|error| Error::Data {
            location: path.display().to_string(),
            detail: format!("not a refs pickle of the `refer` toolkit ({error})"),
        })?;
    let instances_path = path.with_file_name("instances.json");
    let instances: Instances = read_json(&instances_path)?;

    let (mut images, image_index) = benchmark_images(&instances.images);
    let mut objects: HashMap<u64, Instance> = HashMap::new();
    for instance in instances.annotations {
        objects.insert(instance.id, instance);
    }

    let mut masks = HashMap::new();
    let mut splits = std::collections::BTreeSet::new();
    let mut refs_in_split = 0;
    for (position, reference) in refs.into_iter().enumerate() {
        splits.insert(reference.split.clone());
        if split.is_some_and(|split| split != reference.split) {
            continue;
        }
        refs_in_split += 1;
        let location = || format!("{}: ref {position}", path.display());
        let &slot = image_index
            .get(&reference.image_id)
            .ok_or_else(|| Error::Data {
                location: location(),
                detail: format!(
                    "image_id {} is not in {}",
                    reference.image_id,
                    instances_path.display()
                ),
            })?;
        let object = objects
            .get_mut(&reference.ann_id)
            .ok_or_else(|| Error::Data {
                location: location(),
                detail: format!(
                    "ann_id {} is not in {}",
                    reference.ann_id,
                    instances_path.display()
                ),
            })?;
        // Several refs may name one object: convert its mask once.
        if let Some(segmentation) = object.segmentation.take() {
            let mask = segmentation.into_mask().map_err(|detail| Error::Data {
                location: format!(
                    "{}: annotation {}.segmentation",
                    instances_path.display(),
                    object.id
                ),
                detail,
            })?;
            masks.insert(object.id, mask);
        }
        let [x, y, width, height] = object.bbox;
        for sentence in reference.sentences {
            let Some(text) = sentence.sent.or(sentence.raw) else {
                continue;
            };
            if text.trim().is_empty() {
                continue;
            }
            images[slot].phrases.push(BenchmarkPhrase {
                phrase: text.trim().to_string(),
                boxes: vec![[x, y, x + width, y + height]],
                masks: masks.get(&object.id).cloned().into_iter().collect(),
            });
        }
    }
    if let (Some(split), 0) = (split, refs_in_split) {
        return Err(Error::Data {
            location: path.display().to_string(),
            detail: format!(
                "no ref is in split {split:?}; the file has {}",
                splits.into_iter().collect::<Vec<_>>().join(", ")
            ),
        });
    }
    images.retain(|image| !image.phrases.is_empty());
    Ok(PhraseBoxes {
        format: PHRASE_BOXES_FORMAT.into(),
        images,
    })
}
