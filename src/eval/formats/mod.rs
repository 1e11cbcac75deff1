//! Loaders that turn benchmark annotation formats into [`PhraseBoxes`](super::PhraseBoxes),
//! one file per format.

mod coco;
mod flickr30k;
mod referit;
mod visual_genome;

pub use coco::{load_coco_instances, parse_coco_instances};
pub use flickr30k::{Flickr30kSkipped, load_flickr30k_entities};
pub use referit::load_referit;
pub use visual_genome::load_visual_genome;

use super::boxes::{BoxReport, PhraseBoxes, parse_phrase_boxes, repair_boxes};
use crate::error::{Error, Result};

/// Parses the text of a benchmark file whose format is not given: `phrase-boxes/1` when it
/// has a `"format"` field, COCO instances when it has `"annotations"`. Boxes are clipped to
/// their photos, as every loader does. `name` names the file in errors.
pub fn parse_benchmark(name: &str, text: &str) -> Result<(PhraseBoxes, BoxReport)> {
    let probe: serde_json::Value = serde_json::from_str(text).map_err(|error| Error::Data {
        location: format!("{name}:{}:{}", error.line(), error.column()),
        detail: format!("not JSON ({error})"),
    })?;
    if probe.get("format").is_some() {
        parse_phrase_boxes(name, text)
    } else if probe.get("annotations").is_some() {
        let mut data = parse_coco_instances(name, text)?;
        let report = repair_boxes(&mut data);
        Ok((data, report))
    } else {
        Err(Error::Data {
            location: name.into(),
            detail: "neither a phrase-boxes/1 file (no \"format\") nor COCO instances (no \"annotations\"); choose one of those".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/benchmarks");

    #[test]
    fn benchmark_format_told_by_content() {
        let boxes = std::fs::read_to_string(format!("{FIXTURES}/phrase-boxes-small.json")).unwrap();
        let (data, report) = parse_benchmark("small.json", &boxes).unwrap();
        assert_eq!(data.images.len(), 2);
        assert_eq!(report.clipped, 1);

        let coco = std::fs::read_to_string(format!("{FIXTURES}/coco_instances.json")).unwrap();
        let (data, _) = parse_benchmark("instances.json", &coco).unwrap();
        assert_eq!(data.images.len(), 2);
    }

    #[test]
    fn benchmark_of_unknown_shape_rejected() {
        let error = parse_benchmark("other.json", r#"{"images": []}"#).unwrap_err();
        assert!(
            error.to_string().contains("neither a phrase-boxes/1"),
            "{error}"
        );

        let error = parse_benchmark("broken.json", "{\"format\": ").unwrap_err();
        assert!(error.to_string().contains("broken.json:1:"), "{error}");
    }
}
