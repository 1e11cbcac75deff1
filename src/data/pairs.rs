//! Training pairs (photo, phrase) from the real annotation formats: a captions TSV, COCO
//! captions JSON, Visual Genome region descriptions or region graphs, and Flickr30k Entities
//! `Sentences/*.txt` markup.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};

/// One photo and a phrase that describes something in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    /// The photo's file name, relative to the images folder.
    pub image: String,
    /// The phrase or caption.
    pub phrase: String,
}

/// Unit of training phrase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(not(target_arch = "wasm32"), derive(clap::ValueEnum))]
pub enum PhraseUnit {
    /// The annotation's phrase or caption as it is; its concept is drawn among its nouns.
    #[default]
    Captions,
    /// Each noun-phrase chunk of the annotation ("a green hat"), with its head noun as the
    /// only concept, like the short region phrases the method was designed for.
    NounPhrases,
}

/// The annotation formats pairs can be read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(not(target_arch = "wasm32"), derive(clap::ValueEnum))]
pub enum PairFormat {
    /// `image<TAB>caption` lines, with an optional `image<TAB>caption` header.
    Tsv,
    /// COCO `captions_*.json`.
    Coco,
    /// Visual Genome `region_descriptions.json` or region graphs (`region_graphs*.json`).
    VisualGenome,
    /// Flickr30k Entities `Sentences/` folder (or one `.txt` file): one pair per entity phrase.
    Flickr30kEntities,
}

/// Pairs read from a file, with what was skipped.
#[derive(Debug, Default)]
pub struct LoadedPairs {
    /// The usable pairs, in file order.
    pub pairs: Vec<Pair>,
    /// Malformed records skipped under `skip_bad`, as `file:line: reason`.
    pub skipped: Vec<String>,
}

impl LoadedPairs {
    /// Records a malformed record: an error, or a skip when `skip_bad` is set.
    fn bad(&mut self, skip_bad: bool, location: String, reason: &str) -> Result<()> {
        if skip_bad {
            self.skipped.push(format!("{location}: {reason}"));
            Ok(())
        } else {
            Err(Error::Data {
                location,
                detail: format!("{reason}; fix the record or pass --skip-bad to skip such records"),
            })
        }
    }
}

fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| Error::io("failed to read", path, source))
}

/// Reads and parses a JSON file, naming file, line and column on a syntax or schema error.
pub(crate) fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = read_text(path)?;
    serde_json::from_str(&text).map_err(|error| json_error(path, error))
}

fn json_error(path: &Path, error: serde_json::Error) -> Error {
    Error::Data {
        location: format!("{}:{}:{}", path.display(), error.line(), error.column()),
        detail: format!("invalid JSON for this format ({error})"),
    }
}

/// Reads pairs from `path` in `format`. With `skip_bad`, malformed records are skipped and
/// listed instead of failing the load.
pub fn load(path: &Path, format: PairFormat, skip_bad: bool) -> Result<LoadedPairs> {
    let loaded = match format {
        PairFormat::Tsv => load_tsv(path, skip_bad)?,
        PairFormat::Coco => load_coco(path, skip_bad)?,
        PairFormat::VisualGenome => load_visual_genome(path, skip_bad)?,
        PairFormat::Flickr30kEntities => load_flickr30k_entities(path, skip_bad)?,
    };
    if loaded.pairs.is_empty() {
        return Err(Error::Data {
            location: path.display().to_string(),
            detail: format!("no (photo, phrase) pair found; is this a {format:?} file?"),
        });
    }
    Ok(loaded)
}

fn load_tsv(path: &Path, skip_bad: bool) -> Result<LoadedPairs> {
    let text = read_text(path)?;
    let mut loaded = LoadedPairs::default();
    for (index, line) in text.lines().enumerate() {
        let location = format!("{}:{}", path.display(), index + 1);
        if line.trim().is_empty() || (index == 0 && line.trim() == "image\tcaption") {
            continue;
        }
        let Some((image, phrase)) = line.split_once('\t') else {
            loaded.bad(
                skip_bad,
                location,
                "expected `image<TAB>caption`, found no tab",
            )?;
            continue;
        };
        let (image, phrase) = (image.trim(), phrase.trim());
        if image.is_empty() || phrase.is_empty() {
            loaded.bad(skip_bad, location, "empty image name or caption")?;
            continue;
        }
        loaded.pairs.push(Pair {
            image: image.into(),
            phrase: phrase.into(),
        });
    }
    Ok(loaded)
}

#[derive(Deserialize)]
struct CocoCaptions {
    images: Vec<CocoImage>,
    annotations: Vec<CocoCaption>,
}

#[derive(Deserialize)]
struct CocoImage {
    id: u64,
    file_name: String,
}

#[derive(Deserialize)]
struct CocoCaption {
    image_id: u64,
    caption: String,
}

fn load_coco(path: &Path, skip_bad: bool) -> Result<LoadedPairs> {
    let file: CocoCaptions = read_json(path)?;
    let names: std::collections::HashMap<u64, &str> = file
        .images
        .iter()
        .map(|image| (image.id, image.file_name.as_str()))
        .collect();
    let mut loaded = LoadedPairs::default();
    for (index, annotation) in file.annotations.iter().enumerate() {
        let location = format!("{}: annotations[{index}]", path.display());
        let Some(name) = names.get(&annotation.image_id) else {
            loaded.bad(
                skip_bad,
                location,
                &format!("image_id {} is not in `images`", annotation.image_id),
            )?;
            continue;
        };
        if annotation.caption.trim().is_empty() {
            loaded.bad(skip_bad, location, "empty caption")?;
            continue;
        }
        loaded.pairs.push(Pair {
            image: (*name).into(),
            phrase: annotation.caption.trim().into(),
        });
    }
    Ok(loaded)
}

/// One image entry of either Visual Genome file: `region_descriptions.json` has `id` and
/// `regions`; region graphs have `regions` whose entries carry `image_id`.
#[derive(Deserialize)]
pub(crate) struct VgImage {
    #[serde(default)]
    pub(crate) id: Option<u64>,
    #[serde(default)]
    pub(crate) image_id: Option<u64>,
    pub(crate) regions: Vec<VgRegion>,
}

/// One Visual Genome region: its phrase and box (`x`, `y`, `width`, `height` in pixels).
#[derive(Deserialize)]
pub(crate) struct VgRegion {
    #[serde(default)]
    pub(crate) image_id: Option<u64>,
    #[serde(default)]
    pub(crate) image: Option<u64>,
    pub(crate) phrase: Option<String>,
    #[serde(default)]
    pub(crate) x: Option<f64>,
    #[serde(default)]
    pub(crate) y: Option<f64>,
    #[serde(default)]
    pub(crate) width: Option<f64>,
    #[serde(default)]
    pub(crate) height: Option<f64>,
}

fn load_visual_genome(path: &Path, skip_bad: bool) -> Result<LoadedPairs> {
    let images: Vec<VgImage> = read_json(path)?;
    let mut loaded = LoadedPairs::default();
    for (image_index, image) in images.iter().enumerate() {
        for (region_index, region) in image.regions.iter().enumerate() {
            let location = format!(
                "{}: [{image_index}].regions[{region_index}]",
                path.display()
            );
            let Some(id) = region
                .image_id
                .or(region.image)
                .or(image.id)
                .or(image.image_id)
            else {
                loaded.bad(skip_bad, location, "no image_id on the region or its image")?;
                continue;
            };
            let phrase = region.phrase.as_deref().map(str::trim).unwrap_or_default();
            if phrase.is_empty() {
                loaded.bad(skip_bad, location, "missing or empty phrase")?;
                continue;
            }
            loaded.pairs.push(Pair {
                image: format!("{id}.jpg"),
                phrase: phrase.into(),
            });
        }
    }
    Ok(loaded)
}

/// One entity mention of Flickr30k Entities markup: `[/EN#123/people A man]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityMention {
    /// The entity id (`123`), which links the mention to boxes in `Annotations/<image>.xml`;
    /// `0` marks mentions that name nothing in the photo.
    pub id: String,
    /// Its types joined by `/`, such as `people` or `bodyparts/people`.
    pub types: String,
    /// The phrase text.
    pub phrase: String,
}

impl EntityMention {
    /// Tells whether the mention names something visible: not of type `notvisual` and not empty.
    pub fn is_visual(&self) -> bool {
        !self.types.split('/').any(|t| t == "notvisual") && !self.phrase.is_empty()
    }
}

/// Extracts the entity mentions of one line of Flickr30k Entities markup,
/// `[/EN#123/people A man] rides [/EN#124/other a horse] .`.
pub fn flickr30k_phrases(line: &str) -> std::result::Result<Vec<EntityMention>, String> {
    let mut mentions = Vec::new();
    let mut rest = line;
    while let Some(start) = rest.find("[/EN#") {
        let after = &rest[start + 1..];
        let end = after
            .find(']')
            .ok_or_else(|| format!("unclosed `[` at byte {}", line.len() - rest.len() + start))?;
        let inner = &after[..end];
        if let Some(nested) = inner.find('[') {
            return Err(format!(
                "unclosed `[` at byte {}: another `[` follows before its `]`",
                line.len() - rest.len() + start + 1 + nested
            ));
        }
        let (tag, phrase) = inner
            .split_once(' ')
            .ok_or_else(|| format!("entity `{inner}` has no phrase"))?;
        // tag: /EN#<id>/<type>[/<type>...]
        let mut parts = tag.splitn(3, '/');
        let id = parts
            .nth(1)
            .and_then(|en| en.strip_prefix("EN#"))
            .filter(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| format!("entity tag `{tag}` has no numeric id"))?;
        let types = parts
            .next()
            .ok_or_else(|| format!("entity tag `{tag}` has no type"))?;
        mentions.push(EntityMention {
            id: id.to_string(),
            types: types.to_string(),
            phrase: phrase.trim().to_string(),
        });
        rest = &after[end + 1..];
    }
    Ok(mentions)
}

fn load_flickr30k_entities(path: &Path, skip_bad: bool) -> Result<LoadedPairs> {
    let files: Vec<PathBuf> = if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|source| Error::io("failed to list", path, source))?
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .filter(|file| file.extension().is_some_and(|ext| ext == "txt"))
            .collect();
        files.sort();
        files
    } else {
        vec![path.to_path_buf()]
    };
    let mut loaded = LoadedPairs::default();
    for file in files {
        let stem = file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = read_text(&file)?;
        for (index, line) in text.lines().enumerate() {
            let location = format!("{}:{}", file.display(), index + 1);
            match flickr30k_phrases(line) {
                Ok(mentions) => {
                    for mention in mentions.into_iter().filter(EntityMention::is_visual) {
                        loaded.pairs.push(Pair {
                            image: format!("{stem}.jpg"),
                            phrase: mention.phrase,
                        });
                    }
                }
                Err(reason) => loaded.bad(skip_bad, location, &reason)?,
            }
        }
    }
    Ok(loaded)
}
