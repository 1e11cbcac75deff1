//! Flickr30k Entities as a benchmark: `Annotations/<id>.xml` (boxes per entity, Pascal VOC
//! style) and `Sentences/<id>.txt` (five captions whose phrases are marked
//! `[/EN#<entity>/<type> text]`). Every visual mention of an entity that has boxes is one
//! phrase, and all boxes of its entity count, as in the data set's own evaluation.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::data::pairs::flickr30k_phrases;
use crate::error::{Error, Result};
use crate::eval::boxes::{BenchmarkImage, BenchmarkPhrase, PHRASE_BOXES_FORMAT, PhraseBoxes};
use crate::eval::pointing::BoxXyxy;

/// Counts of the mentions the loader left out, for the summary.
#[derive(Debug, Clone, Default)]
pub struct Flickr30kSkipped {
    /// Mentions of type `notvisual` (entity 0).
    pub not_visual: usize,
    /// Mentions of entities without a box (scenes, and entities marked `nobndbox`).
    pub without_box: usize,
}

/// The boxes of one annotation file, by entity id, and the photo's size.
struct Annotation {
    width: u32,
    height: u32,
    boxes: HashMap<String, Vec<BoxXyxy>>,
}

/// Reads a text file, naming the byte offset of the first invalid UTF-8 sequence if any.
fn read_utf8(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|source| Error::io("failed to read", path, source))?;
    String::from_utf8(bytes).map_err(|error| Error::Data {
        location: format!(
            "{}: byte {}",
            path.display(),
            error.utf8_error().valid_up_to()
        ),
        detail: "not UTF-8 text; the file is damaged or not part of Flickr30k Entities".into(),
    })
}

fn data_error(path: &Path, position: roxmltree::TextPos, detail: String) -> Error {
    Error::Data {
        location: format!("{}:{}:{}", path.display(), position.row, position.col),
        detail,
    }
}

/// Parses one `Annotations/<id>.xml`. Coordinates there are read as 1-based and inclusive
/// (Pascal VOC) and become 0-based, max exclusive: `[xmin - 1, ymin - 1, xmax, ymax]`.
// NOTE: the 1-based reading follows the Pascal VOC schema that the files copy. It was not
// checked against photos with the real annotations; a 0-based reading would move boxes 1 px.
fn parse_annotation(path: &Path) -> Result<Annotation> {
    let text = read_utf8(path)?;
    let document = roxmltree::Document::parse(&text)
        .map_err(|error| data_error(path, error.pos(), format!("not well-formed XML ({error})")))?;
    let at = |node: roxmltree::Node| document.text_pos_at(node.range().start);
    let number = |parent: roxmltree::Node, tag: &str| -> Result<f64> {
        let child = parent
            .children()
            .find(|child| child.has_tag_name(tag))
            .ok_or_else(|| {
                data_error(
                    path,
                    at(parent),
                    format!("<{}> has no <{tag}>", parent.tag_name().name()),
                )
            })?;
        let value = child.text().unwrap_or_default().trim();
        value
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| {
                data_error(
                    path,
                    at(child),
                    format!("<{tag}> is {value:?}, not a number"),
                )
            })
    };

    let root = document.root_element();
    let size = root
        .children()
        .find(|child| child.has_tag_name("size"))
        .ok_or_else(|| data_error(path, at(root), "no <size> element".into()))?;
    let (width, height) = (number(size, "width")?, number(size, "height")?);
    if width < 1.0 || height < 1.0 {
        return Err(data_error(
            path,
            at(size),
            format!("photo size {width} x {height} is empty"),
        ));
    }

    let mut boxes: HashMap<String, Vec<BoxXyxy>> = HashMap::new();
    for object in root.children().filter(|child| child.has_tag_name("object")) {
        let Some(bndbox) = object.children().find(|child| child.has_tag_name("bndbox")) else {
            continue;
        };
        let bounds = [
            number(bndbox, "xmin")? - 1.0,
            number(bndbox, "ymin")? - 1.0,
            number(bndbox, "xmax")?,
            number(bndbox, "ymax")?,
        ];
        // One box may belong to several entities: one <name> each.
        for name in object.children().filter(|child| child.has_tag_name("name")) {
            let id = name.text().unwrap_or_default().trim().to_string();
            boxes.entry(id).or_default().push(bounds);
        }
    }
    Ok(Annotation {
        width: width as u32,
        height: height as u32,
        boxes,
    })
}

/// Lists the image ids to load: those of a split list (one id per line), or of every
/// annotation file.
fn image_ids(path: &Path, annotations: &Path) -> Result<Vec<String>> {
    if path.is_file() {
        let text = read_utf8(path)?;
        return Ok(text
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .map(str::to_string)
            .collect());
    }
    let mut ids: Vec<String> = std::fs::read_dir(annotations)
        .map_err(|source| Error::io("failed to list", annotations, source))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|file| file.extension().is_some_and(|ext| ext == "xml"))
        .filter_map(|file| file.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .collect();
    ids.sort();
    Ok(ids)
}

/// Reads Flickr30k Entities. `path` is the data set folder holding `Annotations/` and
/// `Sentences/`, or a split list such as `test.txt` beside them. Photos are `<id>.jpg`.
pub fn load_flickr30k_entities(path: &Path) -> Result<(PhraseBoxes, Flickr30kSkipped)> {
    let root: PathBuf = if path.is_file() {
        path.parent().unwrap_or(Path::new(".")).to_path_buf()
    } else {
        path.to_path_buf()
    };
    let (annotations, sentences) = (root.join("Annotations"), root.join("Sentences"));
    for folder in [&annotations, &sentences] {
        if !folder.is_dir() {
            return Err(Error::Data {
                location: folder.display().to_string(),
                detail: "folder not found; pass --data the Flickr30k Entities folder (with Annotations/ and Sentences/) or a split list such as test.txt inside it".into(),
            });
        }
    }

    let mut skipped = Flickr30kSkipped::default();
    let mut images = Vec::new();
    for id in image_ids(path, &annotations)? {
        let annotation = parse_annotation(&annotations.join(format!("{id}.xml")))?;
        let sentence_file = sentences.join(format!("{id}.txt"));
        let text = read_utf8(&sentence_file)?;
        let mut phrases = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let mentions = flickr30k_phrases(line).map_err(|detail| Error::Data {
                location: format!("{}:{}", sentence_file.display(), index + 1),
                detail,
            })?;
            for mention in mentions {
                if !mention.is_visual() {
                    skipped.not_visual += 1;
                    continue;
                }
                match annotation.boxes.get(&mention.id) {
                    Some(boxes) => phrases.push(BenchmarkPhrase {
                        phrase: mention.phrase,
                        boxes: boxes.clone(),
                        masks: Vec::new(),
                    }),
                    None => skipped.without_box += 1,
                }
            }
        }
        if !phrases.is_empty() {
            images.push(BenchmarkImage {
                file: format!("{id}.jpg"),
                width: annotation.width,
                height: annotation.height,
                phrases,
            });
        }
    }
    Ok((
        PhraseBoxes {
            format: PHRASE_BOXES_FORMAT.into(),
            images,
        },
        skipped,
    ))
}
