//! The attention module of the grounding head: batch norm on the image map and on the phrase
//! vector, the phrase concatenated to every region, a 1x1 convolution stack shared by all
//! regions (512, 128, 32, 1 channels by default, ReLU after each), and a softmax over regions.

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig};
use burn::tensor::activation::{relu, softmax};
use burn::tensor::{Device, Tensor};

use crate::error::{Error, Result};

/// Configuration of the [`Attention`] module.
#[derive(Config, Debug)]
pub struct AttentionConfig {
    /// Channels `m` of the image feature map (512 for VGG16 pool5).
    pub image_channels: usize,
    /// Width `l` of the phrase embedding (384 for MiniLM).
    pub phrase_dim: usize,
    /// Output channels of each 1x1 convolution; the last must be 1 (one score per region).
    #[config(default = "vec![512, 128, 32, 1]")]
    pub layers: Vec<usize>,
    /// Apply ReLU to the final region scores too, as the method's `ReLU(W x + b)` for every
    /// layer states. With `false` the scores stay signed before the softmax.
    #[config(default = true)]
    pub relu_on_scores: bool,
    /// Epsilon of both batch norms.
    #[config(default = 1e-5)]
    pub batch_norm_eps: f64,
}

/// Attention over the regions of an image feature map, conditioned on a phrase.
#[derive(Module, Debug)]
pub struct Attention {
    /// Batch norm over the `m` image channels.
    pub image_norm: BatchNorm,
    /// Batch norm over the `l` phrase dimensions.
    pub phrase_norm: BatchNorm,
    /// The 1x1 convolution stack, `(m + l) -> p -> q -> r -> 1`.
    pub convs: Vec<Conv2d>,
    relu_on_scores: bool,
}

/// Output of the attention module: the weights and the normalised map they weigh.
#[derive(Debug, Clone)]
pub struct AttentionOutput {
    /// Attention over regions, `[batch, regions]`, each row summing to 1.
    pub weights: Tensor<2>,
    /// The batch-normalised image map, `[batch, m, height, width]`.
    pub image: Tensor<4>,
}

impl AttentionConfig {
    /// Checks the configuration, with a message naming the bad field.
    pub fn validate(&self) -> Result<()> {
        let invalid = |detail: String| {
            Err(Error::Config {
                name: "attention".into(),
                detail,
            })
        };
        if self.image_channels == 0 || self.phrase_dim == 0 {
            return invalid("image_channels and phrase_dim must be positive".into());
        }
        if self.layers.last() != Some(&1) || self.layers.contains(&0) {
            return invalid(format!(
                "layers must be positive and end with 1, found {:?}",
                self.layers
            ));
        }
        Ok(())
    }

    /// Builds the module with freshly initialised weights.
    ///
    /// # Panics
    /// Panics if the configuration is invalid; call [`AttentionConfig::validate`] first on
    /// configurations read from files.
    pub fn init(&self, device: &Device) -> Attention {
        if let Err(error) = self.validate() {
            panic!("{error}");
        }
        let mut convs = Vec::with_capacity(self.layers.len());
        let mut channels = self.image_channels + self.phrase_dim;
        for &width in &self.layers {
            convs.push(Conv2dConfig::new([channels, width], [1, 1]).init(device));
            channels = width;
        }
        if self.relu_on_scores {
            // With a ReLU on the scores, a region whose score starts below zero gets no
            // gradient, so a positive bias starts every region in the ReLU's linear part.
            if let Some(last) = convs.last_mut() {
                last.bias = Some(Param::from_tensor(Tensor::ones([1], device)));
            }
        }
        Attention {
            image_norm: BatchNormConfig::new(self.image_channels)
                .with_epsilon(self.batch_norm_eps)
                .init(device),
            phrase_norm: BatchNormConfig::new(self.phrase_dim)
                .with_epsilon(self.batch_norm_eps)
                .init(device),
            convs,
            relu_on_scores: self.relu_on_scores,
        }
    }
}

impl Attention {
    /// Computes the attention of each phrase over the regions of its photo's map.
    ///
    /// # Shapes
    /// - `image`: `[batch, m, height, width]` (7 x 7 for 224 x 224 photos)
    /// - `phrase`: `[batch, l]`
    /// - output weights: `[batch, height * width]`
    pub fn forward(&self, image: Tensor<4>, phrase: Tensor<2>) -> AttentionOutput {
        let [batch, channels, height, width] = image.dims();
        let regions = height * width;

        // Batch norm on both feature sets.
        let image = self.image_norm.forward(image);
        let phrase = self.phrase_norm.forward(phrase);

        // The first 1x1 layer takes [region; phrase] at every region. Its weight splits into an
        // image part and a phrase part, so the phrase part is computed once per phrase rather
        // than once per region: W [v; t] + b = W_v v + (W_t t + b).
        let (weight, bias) = conv_matrix(&self.convs[0]);
        let [hidden, _] = weight.dims();
        let image_weight = weight.clone().slice([0..hidden, 0..channels]);
        let phrase_weight = weight.slice([0..hidden, channels..hidden_input(&self.convs[0])]);
        // Every layer is one 2-D matrix product over all regions of the batch, [batch * regions,
        // channels]. A product with the weight broadcast over a batch dimension gives the same
        // forward values. Its backward pass, though, forms one weight gradient per batch item and
        // sums them, which made the training step's backward pass almost twice as slow.
        // [batch, m, h, w] -> [batch * regions, m]
        let regions_first = image
            .clone()
            .reshape([batch, channels, regions])
            .swap_dims(1, 2)
            .reshape([batch * regions, channels]);
        let phrase_term = phrase.matmul(phrase_weight.transpose()) + bias.unsqueeze_dim::<2>(0);
        // [batch * regions, hidden] -> [batch, regions, hidden] to add each photo's phrase term.
        let x = regions_first
            .matmul(image_weight.transpose())
            .reshape([batch, regions, hidden])
            + phrase_term.unsqueeze_dim::<3>(1);
        let mut x = x.reshape([batch * regions, hidden]);

        // The rest of the shared MLP, as matrix products over [batch * regions, channels].
        let last = self.convs.len() - 1;
        for (index, conv) in self.convs.iter().enumerate() {
            if index > 0 {
                let (weight, bias) = conv_matrix(conv);
                x = x.matmul(weight.transpose()) + bias.unsqueeze_dim::<2>(0);
            }
            if index < last || self.relu_on_scores {
                x = relu(x);
            }
        }

        // Softmax over regions: [batch * regions, 1] -> [batch, regions].
        let weights = softmax(x.reshape([batch, regions]), 1);
        AttentionOutput { weights, image }
    }
}

/// Input channels of a conv layer.
fn hidden_input(conv: &Conv2d) -> usize {
    conv.weight.dims()[1]
}

/// Returns a 1x1 conv layer as a matrix `[out, in]` and a bias `[out]`. A 1x1 convolution is
/// the same linear map at every position, and matrix products run faster than convs.
pub(crate) fn conv_matrix(conv: &Conv2d) -> (Tensor<2>, Tensor<1>) {
    let [out, input, _, _] = conv.weight.dims();
    let weight = conv.weight.val().reshape([out, input]);
    let bias = match &conv.bias {
        Some(bias) => bias.val(),
        None => Tensor::zeros([out], &weight.device()),
    };
    (weight, bias)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a module of one image channel, one phrase dimension and one 1x1 layer whose score is the
    /// normalised image value, so the softmax can be checked by hand.
    fn probe(relu_on_scores: bool) -> Attention {
        let device = Device::flex();
        let config = AttentionConfig::new(1, 1)
            .with_layers(vec![1])
            .with_relu_on_scores(relu_on_scores);
        let mut attention = config.init(&device);
        let conv = &mut attention.convs[0];
        conv.weight =
            Param::from_tensor(Tensor::<1>::from_floats([1.0, 0.0], &device).reshape([1, 2, 1, 1]));
        conv.bias = Some(Param::from_tensor(Tensor::<1>::zeros([1], &device)));
        attention
    }

    /// Builds a 7 x 7 single-channel map: ln 3 at region 0, -5 at region 1, 0 elsewhere.
    fn image() -> Tensor<4> {
        let mut values = [0f32; 49];
        values[0] = 3f32.ln();
        values[1] = -5.0;
        Tensor::<1>::from_floats(values, &Device::flex()).reshape([1, 1, 7, 7])
    }

    fn weights(attention: &Attention) -> Vec<f32> {
        let phrase = Tensor::<2>::from_floats([[0.7]], &Device::flex());
        attention
            .forward(image(), phrase)
            .weights
            .into_data()
            .try_into_vec()
            .unwrap()
    }

    #[test]
    fn softmax_over_relu_scores() {
        // Inference batch norm with fresh statistics divides by sqrt(1 + 1e-5), hence the
        // tolerance; ReLU turns the -5 score into 0.
        let weights = weights(&probe(true));
        let scale = 1.0 / (1.0f32 + 1e-5).sqrt();
        let peak = 3f32.powf(scale);
        let expected = [
            peak / (peak + 48.0),
            1.0 / (peak + 48.0),
            1.0 / (peak + 48.0),
        ];
        for (index, expected) in expected.iter().enumerate() {
            assert!(
                (weights[index] - expected).abs() < 1e-6,
                "region {index}: {} vs {expected}, tolerance 1e-6",
                weights[index]
            );
        }
        let total: f32 = weights.iter().sum();
        assert!(
            (total - 1.0).abs() < 1e-5,
            "weights sum to {total}, expected 1 within 1e-5"
        );
    }

    #[test]
    fn signed_scores_without_final_relu() {
        let weights = weights(&probe(false));
        let scale = 1.0 / (1.0f32 + 1e-5).sqrt();
        let (peak, low) = (3f32.powf(scale), (-5.0 * scale).exp());
        let total = peak + low + 47.0;
        assert!(
            (weights[0] - peak / total).abs() < 1e-6,
            "region 0: {} vs {}",
            weights[0],
            peak / total
        );
        assert!(
            (weights[1] - low / total).abs() < 1e-6,
            "region 1: {} vs {}",
            weights[1],
            low / total
        );
    }

    #[test]
    fn invalid_layers_rejected() {
        let config = AttentionConfig::new(4, 4).with_layers(vec![8, 2]);
        let error = config.validate().unwrap_err().to_string();
        assert!(error.contains("end with 1"), "{error}");
    }
}
