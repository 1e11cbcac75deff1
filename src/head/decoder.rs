//! The concept decoder, used only in training: it names the concept a concept batch shares,
//! once from each pair's attended map (independent branch) and once from their sum (common
//! branch). Each branch down-samples channels with a 1x1 convolution, keeps the spatial
//! layout, flattens, and scores every concept of the vocabulary with a fully connected layer.

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor};

use super::attention::conv_matrix;

/// Configuration of the [`ConceptDecoder`].
#[derive(Config, Debug)]
pub struct ConceptDecoderConfig {
    /// Channels `m` of the image feature map.
    pub image_channels: usize,
    /// Number of concepts in the vocabulary.
    pub concepts: usize,
    /// Channels after the 1x1 down-sampling convolution.
    #[config(default = 64)]
    pub reduced_channels: usize,
    /// Regions of the map (7 x 7 = 49 for 224 x 224 photos).
    #[config(default = 49)]
    pub regions: usize,
}

/// The two-branch concept decoder.
#[derive(Module, Debug)]
pub struct ConceptDecoder {
    /// 1x1 down-sampling of each pair's attended map.
    pub independent_reduce: Conv2d,
    /// Concept scores from one flattened attended map.
    pub independent_classifier: Linear,
    /// 1x1 down-sampling of the summed attended map.
    pub common_reduce: Conv2d,
    /// Concept scores from the flattened summed map.
    pub common_classifier: Linear,
}

/// Concept logits of both branches.
#[derive(Debug, Clone)]
pub struct ConceptLogits {
    /// `[batches, concepts]`: one prediction per concept batch, from the summed maps.
    pub common: Tensor<2>,
    /// `[batches, k, concepts]`: one prediction per pair.
    pub independent: Tensor<3>,
}

impl ConceptDecoderConfig {
    /// Builds the decoder with freshly initialised weights.
    pub fn init(&self, device: &Device) -> ConceptDecoder {
        let reduce =
            || Conv2dConfig::new([self.image_channels, self.reduced_channels], [1, 1]).init(device);
        let classifier =
            || LinearConfig::new(self.reduced_channels * self.regions, self.concepts).init(device);
        ConceptDecoder {
            independent_reduce: reduce(),
            independent_classifier: classifier(),
            common_reduce: reduce(),
            common_classifier: classifier(),
        }
    }
}

/// Applies a 1x1 conv to `[n, m, regions]` as a matrix product, `[n, reduced, regions]`.
fn reduce(conv: &Conv2d, maps: Tensor<3>) -> Tensor<3> {
    let (weight, bias) = conv_matrix(conv);
    weight.unsqueeze_dim::<3>(0).matmul(maps) + bias.unsqueeze_dims::<3>(&[0, 2])
}

impl ConceptDecoder {
    /// Scores the concepts of concept batches from their attended maps.
    ///
    /// # Shapes
    /// - `image`: `[batches, k, m, height, width]`, the normalised maps of the k pairs
    /// - `attention`: `[batches, k, height * width]`
    /// - output: common `[batches, concepts]`, independent `[batches, k, concepts]`
    pub fn forward(&self, image: Tensor<5>, attention: Tensor<3>) -> ConceptLogits {
        let [batches, k, channels, height, width] = image.dims();

        // Attended maps keep their layout: [batches, k, hw] -> [batches, k, 1, height, width].
        let attention = attention.reshape([batches, k, 1, height, width]);
        let attended = image * attention;

        // Independent branch, one prediction per pair: [batches * k, m, height * width].
        let regions = height * width;
        let per_pair = attended.clone().reshape([batches * k, channels, regions]);
        let reduced = reduce(&self.independent_reduce, per_pair);
        let [_, reduced_channels, _] = reduced.dims();
        let flat = reduced.reshape([batches * k, reduced_channels * regions]);
        let independent = self.independent_classifier.forward(flat);
        let concepts = independent.dims()[1];
        let independent = independent.reshape([batches, k, concepts]);

        // Common branch: the k attended maps summed, [batches, m, height * width].
        let summed = attended.sum_dim(1).reshape([batches, channels, regions]);
        let flat =
            reduce(&self.common_reduce, summed).reshape([batches, reduced_channels * regions]);
        let common = self.common_classifier.forward(flat);

        ConceptLogits {
            common,
            independent,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::Param;

    /// Builds a decoder over 1 x 1 maps with 2 channels whose 1x1 conv sums the channels and whose
    /// classifier maps s to [s, 0.5 - s], so every logit can be checked by hand.
    fn probe() -> ConceptDecoder {
        let device = Device::flex();
        let mut decoder = ConceptDecoderConfig::new(2, 2)
            .with_reduced_channels(1)
            .with_regions(1)
            .init(&device);
        for conv in [&mut decoder.independent_reduce, &mut decoder.common_reduce] {
            conv.weight = Param::from_tensor(
                Tensor::<1>::from_floats([1.0, 1.0], &device).reshape([1, 2, 1, 1]),
            );
            conv.bias = Some(Param::from_tensor(Tensor::zeros([1], &device)));
        }
        for linear in [
            &mut decoder.independent_classifier,
            &mut decoder.common_classifier,
        ] {
            linear.weight = Param::from_tensor(Tensor::from_floats([[1.0, -1.0]], &device));
            linear.bias = Some(Param::from_tensor(Tensor::from_floats([0.0, 0.5], &device)));
        }
        decoder
    }

    #[test]
    fn branches_by_hand() {
        let device = Device::flex();
        // One concept batch of k = 2 pairs with features [1, 2] and [3, 4]; a single region
        // gets all the attention.
        let image =
            Tensor::<1>::from_floats([1.0, 2.0, 3.0, 4.0], &device).reshape([1, 2, 2, 1, 1]);
        let attention = Tensor::<1>::from_floats([1.0, 1.0], &device).reshape([1, 2, 1]);
        let logits = probe().forward(image, attention);

        // Independent: sums 3 and 7. Common: features summed to [4, 6], sum 10.
        let independent: Vec<f32> = logits.independent.into_data().try_into_vec().unwrap();
        let common: Vec<f32> = logits.common.into_data().try_into_vec().unwrap();
        assert_eq!(independent, vec![3.0, -2.5, 7.0, -6.5]);
        assert_eq!(common, vec![10.0, -9.5]);
    }

    #[test]
    fn attention_scales_regions() {
        let device = Device::flex();
        // Two regions; the attention 0.25 / 0.75 weighs them before the classifier.
        let decoder = ConceptDecoderConfig::new(1, 1)
            .with_reduced_channels(1)
            .with_regions(2)
            .init(&device);
        let image = Tensor::<1>::from_floats([2.0, 4.0], &device).reshape([1, 1, 1, 1, 2]);
        let attention = Tensor::<1>::from_floats([0.25, 0.75], &device).reshape([1, 1, 2]);
        let logits = decoder.forward(image.clone(), attention);
        let conv_weight: f32 = decoder.independent_reduce.weight.val().into_scalar();
        let conv_bias: f32 = decoder
            .independent_reduce
            .bias
            .as_ref()
            .unwrap()
            .val()
            .into_scalar();
        let weights: Vec<f32> = decoder
            .independent_classifier
            .weight
            .val()
            .into_data()
            .try_into_vec()
            .unwrap();
        let bias: f32 = decoder
            .independent_classifier
            .bias
            .as_ref()
            .unwrap()
            .val()
            .into_scalar();
        let attended = [0.5 * conv_weight + conv_bias, 3.0 * conv_weight + conv_bias];
        let expected = attended[0] * weights[0] + attended[1] * weights[1] + bias;
        let actual: f32 = logits.independent.into_scalar();
        assert!(
            (actual - expected).abs() < 1e-5,
            "logit {actual}, expected {expected} within 1e-5"
        );
    }
}
