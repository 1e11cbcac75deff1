//! Training data: (photo, phrase) pairs from annotation files, noun concepts, and the
//! concept-batch sampler.

pub mod concepts;
pub mod pairs;
pub mod sampler;

pub use concepts::ConceptSet;
pub use pairs::{LoadedPairs, Pair, PairFormat, PhraseUnit};
pub use sampler::{ConceptBatch, ConceptSampler};
