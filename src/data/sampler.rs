//! The concept-batch sampler: one training instance is k pairs that all contain one concept.
//!
//! Each epoch shuffles the pairs and walks them as anchors. An anchor's concept is drawn
//! anew among its concepts every time it is used, and k - 1 other pairs containing that
//! concept complete the batch (drawn without repetition where the concept has enough pairs).
//! The batches of an epoch depend only on the seed and the epoch number, so a resumed run
//! draws the same batches as an uninterrupted one.

use rand::rngs::ChaCha8Rng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{RngExt, SeedableRng};

/// One training instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConceptBatch {
    /// The concept all k pairs contain.
    pub concept: usize,
    /// Indices of the k pairs.
    pub pairs: Vec<usize>,
}

/// Draws concept batches from pairs and their concepts.
#[derive(Debug, Clone)]
pub struct ConceptSampler {
    pair_concepts: Vec<Vec<usize>>,
    /// For each concept, the pairs that contain it.
    members: Vec<Vec<usize>>,
    k: usize,
    seed: u64,
}

impl ConceptSampler {
    /// Prepares a sampler of `k` pairs per batch over `pair_concepts` (each pair's concept
    /// indices, all below `concepts`).
    pub fn new(pair_concepts: Vec<Vec<usize>>, concepts: usize, k: usize, seed: u64) -> Self {
        let mut members = vec![Vec::new(); concepts];
        for (pair, ids) in pair_concepts.iter().enumerate() {
            for &concept in ids {
                members[concept].push(pair);
            }
        }
        Self {
            pair_concepts,
            members,
            k: k.max(1),
            seed,
        }
    }

    /// Number of concept batches per epoch: enough for each pair to be used about once.
    pub fn batches_per_epoch(&self) -> usize {
        (self.pair_concepts.len() / self.k).max(1)
    }

    /// Draws the concept batches of epoch `epoch` (counted from 0).
    pub fn epoch(&self, epoch: u64) -> Vec<ConceptBatch> {
        let mut rng =
            ChaCha8Rng::seed_from_u64(self.seed ^ epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut anchors: Vec<usize> = (0..self.pair_concepts.len()).collect();
        anchors.shuffle(&mut rng);
        anchors.truncate(self.batches_per_epoch());

        anchors
            .into_iter()
            .map(|anchor| {
                let choices = &self.pair_concepts[anchor];
                let concept = choices[rng.random_range(0..choices.len())];
                let others: Vec<usize> = self.members[concept]
                    .iter()
                    .copied()
                    .filter(|&p| p != anchor)
                    .collect();
                let mut pairs = Vec::with_capacity(self.k);
                pairs.push(anchor);
                if others.len() >= self.k - 1 {
                    pairs.extend(others.sample(&mut rng, self.k - 1).copied());
                } else {
                    // Too few pairs share this concept: repeat some, the anchor included.
                    let pool: Vec<usize> = std::iter::once(anchor).chain(others).collect();
                    while pairs.len() < self.k {
                        pairs.push(pool[rng.random_range(0..pool.len())]);
                    }
                }
                ConceptBatch { concept, pairs }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 60 pairs over 4 concepts; pair i has concept i % 4, and every third pair also has 3.
    fn sampler(seed: u64) -> ConceptSampler {
        let pair_concepts: Vec<Vec<usize>> = (0..60)
            .map(|i| {
                if i % 3 == 0 {
                    vec![i % 4, 3]
                } else {
                    vec![i % 4]
                }
            })
            .collect();
        ConceptSampler::new(pair_concepts, 4, 5, seed)
    }

    #[test]
    fn every_pair_shares_the_concept() {
        let sampler = sampler(1);
        for epoch in 0..3 {
            for batch in sampler.epoch(epoch) {
                assert_eq!(batch.pairs.len(), 5);
                for &pair in &batch.pairs {
                    assert!(
                        sampler.pair_concepts[pair].contains(&batch.concept),
                        "pair {pair} lacks concept {}",
                        batch.concept
                    );
                }
            }
        }
    }

    #[test]
    fn same_seed_same_batches() {
        assert_eq!(sampler(7).epoch(2), sampler(7).epoch(2));
        assert_ne!(sampler(7).epoch(2), sampler(8).epoch(2));
        assert_ne!(sampler(7).epoch(2), sampler(7).epoch(3));
    }

    #[test]
    fn concepts_redrawn_per_use() {
        // Pair 0 has concepts 0 and 3: over many epochs, batches it anchors use both.
        let sampler = sampler(3);
        let mut seen = std::collections::HashSet::new();
        for epoch in 0..200 {
            for batch in sampler.epoch(epoch) {
                if batch.pairs[0] == 0 {
                    seen.insert(batch.concept);
                }
            }
        }
        assert_eq!(
            seen,
            [0, 3].into_iter().collect(),
            "concepts drawn for pair 0"
        );
    }

    #[test]
    fn rare_concepts_fill_with_repeats() {
        let sampler = ConceptSampler::new(
            vec![vec![0], vec![0], vec![1], vec![1], vec![1], vec![1]],
            2,
            4,
            0,
        );
        for batch in sampler.epoch(0) {
            assert_eq!(batch.pairs.len(), 4);
        }
    }
}
