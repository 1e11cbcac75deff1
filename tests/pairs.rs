//! Pair loaders on fixtures in the real formats (tests/data/pairs), the tagger against its
//! reference implementation, and the concept vocabulary.

use std::path::PathBuf;

use semground::data::pairs::{self, PairFormat, flickr30k_phrases};
use semground::data::{ConceptSet, Pair};
use semground::text::{Tagger, nouns};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn tagger() -> Tagger {
    let bytes =
        std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("weights/tagger.json.gz"))
            .unwrap();
    Tagger::from_gzip(&bytes).unwrap()
}

#[test]
fn tsv_skips_header_and_blank_lines() {
    let loaded = pairs::load(&data("pairs/captions.tsv"), PairFormat::Tsv, false).unwrap();
    assert_eq!(loaded.pairs.len(), 3);
    assert_eq!(
        loaded.pairs[0],
        Pair {
            image: "beach-0001.jpg".into(),
            phrase: "A boy sells lemonade from a stand at a street market .".into()
        }
    );
}

#[test]
fn tsv_error_names_file_and_line() {
    let error = pairs::load(&data("pairs/bad.tsv"), PairFormat::Tsv, false)
        .unwrap_err()
        .to_string();
    assert!(error.contains("bad.tsv:3"), "{error}");
    assert!(error.contains("found no tab"), "{error}");
    assert!(error.contains("--skip-bad"), "{error}");
}

#[test]
fn tsv_skip_bad_counts_records() {
    let loaded = pairs::load(&data("pairs/bad.tsv"), PairFormat::Tsv, true).unwrap();
    assert_eq!(loaded.pairs.len(), 2);
    assert_eq!(loaded.skipped.len(), 2, "{:?}", loaded.skipped);
    assert!(
        loaded.skipped[1].contains("bad.tsv:4"),
        "{:?}",
        loaded.skipped
    );
}

#[test]
fn coco_captions_join_image_names() {
    let loaded = pairs::load(&data("pairs/coco_captions.json"), PairFormat::Coco, false).unwrap();
    assert_eq!(loaded.pairs.len(), 3);
    assert_eq!(loaded.pairs[0].image, "000000391895.jpg");
    assert_eq!(
        loaded.pairs[0].phrase,
        "A man with a red helmet on a small moped on a dirt road."
    );
}

#[test]
fn malformed_json_names_position() {
    let path = std::env::temp_dir().join(format!("semground-bad-{}.json", std::process::id()));
    std::fs::write(
        &path,
        "{\"images\": [],\n \"annotations\": [{\"image_id\": 1,}]}",
    )
    .unwrap();
    let error = pairs::load(&path, PairFormat::Coco, false)
        .unwrap_err()
        .to_string();
    std::fs::remove_file(&path).unwrap();
    assert!(error.contains(&format!("{}:2:", path.display())), "{error}");
    assert!(error.contains("invalid JSON"), "{error}");
}

#[test]
fn visual_genome_region_graphs() {
    let loaded = pairs::load(
        &data("pairs/vg_region_graphs.json"),
        PairFormat::VisualGenome,
        false,
    )
    .unwrap();
    assert_eq!(loaded.pairs.len(), 8);
    assert_eq!(
        loaded.pairs[0],
        Pair {
            image: "1.jpg".into(),
            phrase: "the clock is green in colour".into()
        }
    );
}

#[test]
fn visual_genome_region_descriptions() {
    let loaded = pairs::load(
        &data("pairs/vg_region_descriptions.json"),
        PairFormat::VisualGenome,
        false,
    )
    .unwrap();
    assert_eq!(loaded.pairs.len(), 6);
    assert_eq!(loaded.pairs[0].image, "1.jpg");
}

#[test]
fn flickr30k_markup_parsed() {
    let phrases = flickr30k_phrases(
        "[/EN#255545/bodyparts/people a man 's arm] at [/EN#255549/scene a formal event] .",
    )
    .unwrap();
    let parsed: Vec<(&str, &str, &str)> = phrases
        .iter()
        .map(|m| (m.id.as_str(), m.types.as_str(), m.phrase.as_str()))
        .collect();
    assert_eq!(
        parsed,
        vec![
            ("255545", "bodyparts/people", "a man 's arm"),
            ("255549", "scene", "a formal event")
        ]
    );
    assert!(
        flickr30k_phrases("[/EN#1/people a man")
            .unwrap_err()
            .contains("unclosed")
    );
    assert!(
        flickr30k_phrases("[/EN#1/people a man [/EN#2/other a horse] .")
            .unwrap_err()
            .contains("another `[` follows")
    );
    assert!(
        flickr30k_phrases("[/EN#xx/people a man] .")
            .unwrap_err()
            .contains("no numeric id")
    );
}

#[test]
fn flickr30k_sentences_folder() {
    let loaded = pairs::load(
        &data("flickr30k-entities/Sentences"),
        PairFormat::Flickr30kEntities,
        false,
    )
    .unwrap();
    // The "notvisual" entity ("each other") is left out.
    assert!(loaded.pairs.iter().all(|pair| pair.phrase != "each other"));
    assert_eq!(
        loaded.pairs[0],
        Pair {
            image: "36979.jpg".into(),
            phrase: "A group of friends".into()
        }
    );
    assert!(
        loaded
            .pairs
            .iter()
            .any(|pair| pair.image == "81641.jpg" && pair.phrase == "the bar")
    );
}

#[test]
fn empty_data_set_rejected() {
    let path = std::env::temp_dir().join(format!("semground-empty-{}.tsv", std::process::id()));
    std::fs::write(&path, "image\tcaption\n").unwrap();
    let error = pairs::load(&path, PairFormat::Tsv, false)
        .unwrap_err()
        .to_string();
    std::fs::remove_file(&path).unwrap();
    assert!(error.contains("no (photo, phrase) pair found"), "{error}");
}

#[derive(serde::Deserialize)]
struct TaggedSentence {
    words: Vec<String>,
    labels: Vec<String>,
}

#[test]
fn tagger_matches_reference() {
    let tagger = tagger();
    let text = std::fs::read_to_string(data("tagger/reference.json")).unwrap();
    let cases: Vec<TaggedSentence> = serde_json::from_str(&text).unwrap();
    for case in cases {
        assert_eq!(
            tagger.tag(&case.words),
            case.labels,
            "labels of {:?}",
            case.words
        );
    }
}

#[test]
fn nouns_are_singular_common_nouns() {
    let tagger = tagger();
    assert_eq!(
        nouns(&tagger, "Two dogs run through the snow ."),
        vec!["dog", "snow"]
    );
    assert_eq!(
        nouns(
            &tagger,
            "children are playing with a red ball near the benches"
        ),
        vec!["child", "ball", "bench"]
    );
    assert!(nouns(&tagger, "running quickly").is_empty());
}

#[test]
fn vocabulary_keeps_frequent_nouns() {
    let tagger = tagger();
    let phrase_pairs = [
        "a dog on the grass",
        "two dogs in the snow",
        "a dog and a cat",
        "a cat on a sofa",
        "running fast",
    ];
    let pairs: Vec<Pair> = phrase_pairs
        .iter()
        .enumerate()
        .map(|(i, p)| Pair {
            image: format!("{i}.jpg"),
            phrase: p.to_string(),
        })
        .collect();
    let set = ConceptSet::build(&tagger, pairs, 2, || {});
    assert_eq!(set.concepts, vec!["dog", "cat"]);
    assert_eq!(set.counts, vec![3, 2]);
    // "a cat on a sofa" keeps cat; "running fast" has no noun and is dropped.
    assert_eq!(set.pairs.len(), 4);
    assert_eq!(set.dropped, 1);
    assert_eq!(set.pair_concepts[2], vec![0, 1]);
}

#[test]
fn noun_chunks_with_head_nouns() {
    let tagger = tagger();
    let chunks = semground::text::noun_chunks(
        &tagger,
        "A tall woman in a red coat and scarf is carrying boxes on a bicycle .",
    );
    let expected = [
        ("A tall woman", "woman"),
        ("a red coat", "coat"),
        ("scarf", "scarf"),
        ("boxes", "box"),
        ("a bicycle", "bicycle"),
    ];
    let actual: Vec<(&str, &str)> = chunks
        .iter()
        .map(|(text, noun)| (text.as_str(), noun.as_str()))
        .collect();
    assert_eq!(actual, expected);
}
