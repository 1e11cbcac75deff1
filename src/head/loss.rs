//! The surrogate loss of concept learning: cross-entropy of the common prediction plus the
//! mean cross-entropy of the k independent predictions, all against the batch's concept.

use burn::tensor::activation::log_softmax;
use burn::tensor::{Int, Tensor};
use serde::{Deserialize, Serialize};

use super::decoder::ConceptLogits;

/// Decoder branches in the loss (the method's ablation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(not(target_arch = "wasm32"), derive(clap::ValueEnum))]
pub enum LossKind {
    /// `CE(common) + mean_i CE(independent_i)`, the method's best setting.
    Both,
    /// `CE(common)` alone.
    Common,
    /// `mean_i CE(independent_i)` alone.
    Independent,
}

/// The loss terms of one step, each a scalar tensor `[1]`.
#[derive(Debug, Clone)]
pub struct ConceptLoss {
    /// Mean over concept batches of the common branch's cross-entropy.
    pub common: Tensor<1>,
    /// Mean over concept batches and pairs of the independent branch's cross-entropy.
    pub independent: Tensor<1>,
    /// The minimised loss, according to [`LossKind`].
    pub total: Tensor<1>,
}

/// Mean cross-entropy of `logits` `[n, concepts]` against `targets` `[n]`.
fn cross_entropy(logits: Tensor<2>, targets: Tensor<1, Int>) -> Tensor<1> {
    let [n, _] = logits.dims();
    let picked = log_softmax(logits, 1).gather(1, targets.reshape([n, 1]));
    picked.neg().mean()
}

impl ConceptLoss {
    /// Computes the loss of concept batches whose concept indices are `targets` `[batches]`.
    pub fn new(logits: &ConceptLogits, targets: Tensor<1, Int>, kind: LossKind) -> Self {
        let [batches, k, concepts] = logits.independent.dims();

        let common = cross_entropy(logits.common.clone(), targets.clone());

        // Every pair of a concept batch has its batch's target: [batches] -> [batches * k].
        let pair_targets = targets
            .reshape([batches, 1])
            .repeat_dim(1, k)
            .reshape([batches * k]);
        let independent = cross_entropy(
            logits.independent.clone().reshape([batches * k, concepts]),
            pair_targets,
        );

        let total = match kind {
            LossKind::Both => common.clone() + independent.clone(),
            LossKind::Common => common.clone(),
            LossKind::Independent => independent.clone(),
        };
        Self {
            common,
            independent,
            total,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    fn logits() -> ConceptLogits {
        let device = Device::flex();
        ConceptLogits {
            common: Tensor::from_floats([[0.0, 0.0]], &device),
            independent: Tensor::from_floats([[[0.0, 0.0], [3f32.ln(), 0.0]]], &device),
        }
    }

    fn scalar(tensor: Tensor<1>) -> f32 {
        tensor.into_scalar()
    }

    #[test]
    fn loss_terms_by_hand() {
        let targets = Tensor::<1, Int>::from_ints([0], &Device::flex());
        let loss = ConceptLoss::new(&logits(), targets, LossKind::Both);
        // Common: two equal logits, CE = ln 2. Independent: ln 2 and -ln(3/4), averaged.
        let common = 2f32.ln();
        let independent = (2f32.ln() + (4f32 / 3.0).ln()) / 2.0;
        let cases = [
            ("common", scalar(loss.common), common),
            ("independent", scalar(loss.independent), independent),
            ("total", scalar(loss.total), common + independent),
        ];
        for (name, actual, expected) in cases {
            assert!(
                (actual - expected).abs() < 1e-6,
                "{name}: {actual} vs {expected}, tolerance 1e-6"
            );
        }
    }

    #[test]
    fn loss_kind_selects_terms() {
        let device = Device::flex();
        let targets = || Tensor::<1, Int>::from_ints([1], &device);
        let common = scalar(ConceptLoss::new(&logits(), targets(), LossKind::Common).total);
        let independent =
            scalar(ConceptLoss::new(&logits(), targets(), LossKind::Independent).total);
        assert!(
            (common - 2f32.ln()).abs() < 1e-6,
            "common-only total {common}"
        );
        let expected = (2f32.ln() + 4f32.ln()) / 2.0;
        assert!(
            (independent - expected).abs() < 1e-6,
            "independent-only total {independent} vs {expected}"
        );
    }
}
