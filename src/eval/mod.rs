//! Evaluation by the pointing game.

pub mod boxes;
pub mod formats;
pub mod masks;
pub mod pointing;
pub mod report;
#[cfg(not(target_arch = "wasm32"))]
pub mod run;
pub mod score;

pub use boxes::{
    BenchmarkImage, BenchmarkPhrase, BoxReport, PhraseBoxes, load_phrase_boxes, parse_phrase_boxes,
};
pub use masks::{Mask, hits_mask};
pub use pointing::{
    BoxXyxy, Method, Protocol, Target, center_point, channel_mean, in_box, is_hit, map_point,
};
pub use score::{
    HitRule, ImageScore, PhraseOutcome, accuracy_percent, score_image, wilson_interval,
};
