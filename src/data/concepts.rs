//! The concept vocabulary: the N most frequent nouns of the training phrases, and for every
//! pair the vocabulary nouns it contains.

use std::collections::HashMap;

use super::pairs::Pair;
use crate::text::{Tagger, nouns};

/// The vocabulary and the pairs that kept at least one of its concepts.
#[derive(Debug, Clone)]
pub struct ConceptSet {
    /// Concept names, most frequent first (ties in alphabetical order).
    pub concepts: Vec<String>,
    /// How many pairs contain each concept, aligned with `concepts`.
    pub counts: Vec<usize>,
    /// The kept pairs.
    pub pairs: Vec<Pair>,
    /// For each kept pair, the indices of its concepts (at least one).
    pub pair_concepts: Vec<Vec<usize>>,
    /// Pairs dropped because none of their nouns is in the vocabulary.
    pub dropped: usize,
    /// Share of all pairs that kept a concept, in 0..1.
    pub coverage: f64,
}

impl ConceptSet {
    /// Tags every phrase, builds the vocabulary of the `size` most frequent nouns, and keeps
    /// the pairs that contain one of them. `progress` is called once per pair.
    pub fn build(
        tagger: &Tagger,
        pairs: Vec<Pair>,
        size: usize,
        mut progress: impl FnMut(),
    ) -> Self {
        let pair_nouns: Vec<Vec<String>> = pairs
            .iter()
            .map(|pair| {
                progress();
                nouns(tagger, &pair.phrase)
            })
            .collect();

        Self::from_nouns(pairs, pair_nouns, size)
    }

    /// Builds the vocabulary of the `size` most frequent nouns from nouns already found for
    /// each pair, and keeps the pairs that contain one of them.
    pub fn from_nouns(pairs: Vec<Pair>, pair_nouns: Vec<Vec<String>>, size: usize) -> Self {
        // Document frequency: a noun counts once per pair.
        let mut frequency: HashMap<&str, usize> = HashMap::new();
        for nouns in &pair_nouns {
            for noun in nouns {
                *frequency.entry(noun.as_str()).or_default() += 1;
            }
        }
        let mut ranked: Vec<(&str, usize)> = frequency.into_iter().collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        ranked.truncate(size);
        let concepts: Vec<String> = ranked.iter().map(|(noun, _)| noun.to_string()).collect();
        let counts: Vec<usize> = ranked.iter().map(|(_, count)| *count).collect();
        Self::from_vocabulary(concepts, counts, pairs, pair_nouns)
    }

    fn from_vocabulary(
        concepts: Vec<String>,
        counts: Vec<usize>,
        pairs: Vec<Pair>,
        pair_nouns: Vec<Vec<String>>,
    ) -> Self {
        let index: HashMap<&str, usize> = concepts
            .iter()
            .enumerate()
            .map(|(i, c)| (c.as_str(), i))
            .collect();
        let total = pairs.len();
        let mut kept = Vec::new();
        let mut pair_concepts = Vec::new();
        for (pair, nouns) in pairs.into_iter().zip(pair_nouns) {
            let ids: Vec<usize> = nouns
                .iter()
                .filter_map(|noun| index.get(noun.as_str()).copied())
                .collect();
            if !ids.is_empty() {
                kept.push(pair);
                pair_concepts.push(ids);
            }
        }
        let dropped = total - kept.len();
        let coverage = if total == 0 {
            0.0
        } else {
            kept.len() as f64 / total as f64
        };
        Self {
            concepts,
            counts,
            pairs: kept,
            pair_concepts,
            dropped,
            coverage,
        }
    }
}
