//! Frozen-encoder features for many photos and phrases at once, through the on-disk cache:
//! what the trainer and the evaluator feed to the head.

use std::collections::HashMap;
use std::path::Path;

use burn::tensor::{Device, Tensor, TensorData};

use crate::cache::{FeatureCache, content_key};
use crate::encoders::{ImageEncoder, PhraseEncoder};
use crate::error::{Error, Result};
use crate::photo::{self, PhotoLimits};

/// Photos per encoder call.
const PHOTO_BATCH: usize = 8;
/// Phrases per encoder call.
const PHRASE_BATCH: usize = 64;
/// Cache space of the phrase encoder.
const PHRASE_SPACE: &str = "minilm-l6";

/// Feature rows keyed by name (photo file name or phrase text).
#[derive(Debug, Default)]
pub struct FeatureTable {
    /// Values per row.
    pub dim: usize,
    /// Row-major values, `rows x dim`.
    pub values: Vec<f32>,
    /// Row of each name.
    pub index: HashMap<String, usize>,
}

impl FeatureTable {
    fn new(dim: usize) -> Self {
        Self {
            dim,
            ..Self::default()
        }
    }

    fn push(&mut self, name: &str, values: &[f32]) {
        self.index.insert(name.to_string(), self.index.len());
        self.values.extend_from_slice(values);
    }

    /// Returns the row of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&[f32]> {
        self.index
            .get(name)
            .map(|&row| &self.values[row * self.dim..(row + 1) * self.dim])
    }

    /// Stacks the rows of `names` into a tensor of shape `[names.len(), dim]`.
    ///
    /// # Panics
    /// Panics if a name has no row; callers look names up from the table itself.
    pub fn stack(&self, names: &[&str], device: &Device) -> Tensor<2> {
        let mut values = Vec::with_capacity(names.len() * self.dim);
        for name in names {
            values.extend_from_slice(
                self.get(name)
                    .unwrap_or_else(|| panic!("no features for {name:?}")),
            );
        }
        Tensor::from_data(TensorData::new(values, [names.len(), self.dim]), device)
    }
}

/// A photo that could not be used, and why.
#[derive(Debug, Clone)]
pub struct UnusablePhoto {
    /// File name relative to the images folder.
    pub name: String,
    /// "not found" or the decoding error.
    pub reason: String,
}

/// Rounds values as the cache stores them, so fresh and cached features are identical.
fn round_to_f16(values: &[f32]) -> Vec<f32> {
    values
        .iter()
        .map(|&v| half::f16::from_f32(v).to_f32())
        .collect()
}

fn read_values(tensor: Tensor<2>) -> Result<Vec<f32>> {
    tensor
        .into_data()
        .try_into_vec::<f32>()
        .map_err(|error| Error::Readback(format!("{error:?}")))
}

/// Region maps of the photos `names` in `images`, `m x 7 x 7` values per row, computed once
/// and cached. Missing or undecodable photos are returned, not fatal. `progress` is called
/// with the number of photos done so far.
pub fn photo_features(
    encoder: &ImageEncoder,
    images: &Path,
    names: &[String],
    cache: &FeatureCache,
    device: &Device,
    progress: &mut dyn FnMut(usize),
) -> Result<(FeatureTable, Vec<UnusablePhoto>)> {
    let space = encoder.kind().name();
    let dim = encoder.kind().channels() * 49;
    let mut table = FeatureTable::new(dim);
    let mut unusable = Vec::new();
    let mut pending: Vec<(String, String, Vec<f32>)> = Vec::new();

    let flush =
        |pending: &mut Vec<(String, String, Vec<f32>)>, table: &mut FeatureTable| -> Result<()> {
            if pending.is_empty() {
                return Ok(());
            }
            let inputs: Vec<Vec<f32>> = pending
                .iter_mut()
                .map(|(_, _, input)| std::mem::take(input))
                .collect();
            let maps = encoder.forward(photo::batch_tensor(&inputs, device));
            let values = read_values(maps.reshape([inputs.len(), dim]))?;
            for ((name, key, _), row) in pending.drain(..).zip(values.chunks(dim)) {
                cache.put(space, &key, row)?;
                table.push(&name, &round_to_f16(row));
            }
            Ok(())
        };

    for (done, name) in names.iter().enumerate() {
        progress(done);
        if table.index.contains_key(name)
            || pending
                .iter()
                .any(|(pending_name, _, _)| pending_name == name)
        {
            continue;
        }
        let path = images.join(name);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(error) => {
                let reason = if error.kind() == std::io::ErrorKind::NotFound {
                    "not found".into()
                } else {
                    error.to_string()
                };
                unusable.push(UnusablePhoto {
                    name: name.clone(),
                    reason,
                });
                continue;
            }
        };
        let key = content_key(&bytes);
        if let Some(values) = cache.get(space, &key, dim) {
            table.push(name, &values);
            continue;
        }
        match photo::decode(name, &bytes, PhotoLimits::default()) {
            Ok(decoded) => pending.push((name.clone(), key, photo::to_input(&decoded))),
            Err(error) => unusable.push(UnusablePhoto {
                name: name.clone(),
                reason: error.to_string(),
            }),
        }
        if pending.len() == PHOTO_BATCH {
            flush(&mut pending, &mut table)?;
        }
    }
    flush(&mut pending, &mut table)?;
    progress(names.len());
    Ok((table, unusable))
}

/// Embeddings of the distinct `phrases`, computed once and cached. `progress` is called with
/// the number of distinct phrases done so far.
pub fn phrase_features(
    encoder: &PhraseEncoder,
    phrases: &[String],
    cache: &FeatureCache,
    device: &Device,
    progress: &mut dyn FnMut(usize),
) -> Result<FeatureTable> {
    let dim = encoder.dim;
    let mut table = FeatureTable::new(dim);
    let mut missing: Vec<(&str, String)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for phrase in phrases {
        if !seen.insert(phrase.as_str()) {
            continue;
        }
        let key = content_key(phrase.as_bytes());
        match cache.get(PHRASE_SPACE, &key, dim) {
            Some(values) => table.push(phrase, &values),
            None => missing.push((phrase, key)),
        }
    }
    progress(table.index.len());

    // Similar lengths together keep padding, and so wasted work, small.
    missing.sort_by_key(|(phrase, _)| phrase.len());
    for chunk in missing.chunks(PHRASE_BATCH) {
        let texts: Vec<&str> = chunk.iter().map(|(phrase, _)| *phrase).collect();
        let values = read_values(encoder.encode(&texts, device)?.embeddings)?;
        for ((phrase, key), row) in chunk.iter().zip(values.chunks(dim)) {
            cache.put(PHRASE_SPACE, key, row)?;
            table.push(phrase, &round_to_f16(row));
        }
        progress(table.index.len());
    }
    Ok(table)
}
