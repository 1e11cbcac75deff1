//! Text processing for concepts: part-of-speech tagging and noun extraction.

pub mod nouns;
pub mod tagger;

pub use nouns::{noun_chunks, nouns, singular, words};
pub use tagger::Tagger;
