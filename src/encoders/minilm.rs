//! all-MiniLM-L6-v2 (Wang et al., "MiniLM", NeurIPS 2020, fine-tuned for sentence embeddings by
//! sentence-transformers): a 6-layer BERT encoder, hidden size 384, 12 heads, GELU (erf form),
//! post-layer-norm with eps 1e-12. A phrase embedding is the mean of the last hidden states
//! over real (unpadded) tokens, L2-normalised. Frozen.
//!
//! Tensor names follow the Hugging Face `BertModel` state dict, without the pooler.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Embedding, EmbeddingConfig, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::activation::{gelu, softmax};
use burn::tensor::{Device, Int, Tensor};

use crate::error::Result;
use crate::weights::WeightFile;

/// Configuration of the BERT encoder; the defaults are all-MiniLM-L6-v2's `config.json`.
#[derive(Config, Debug)]
pub struct MiniLmConfig {
    /// WordPiece vocabulary size.
    #[config(default = 30522)]
    pub vocab_size: usize,
    /// Width of every hidden state.
    #[config(default = 384)]
    pub hidden_size: usize,
    /// Number of transformer layers.
    #[config(default = 6)]
    pub layers: usize,
    /// Attention heads per layer; `hidden_size` must be a multiple of it.
    #[config(default = 12)]
    pub heads: usize,
    /// Width of the feed-forward layer.
    #[config(default = 1536)]
    pub intermediate_size: usize,
    /// Number of learned positions, the hard limit on tokens per phrase.
    #[config(default = 512)]
    pub max_positions: usize,
    /// Number of token types (segments).
    #[config(default = 2)]
    pub type_vocab_size: usize,
    /// Layer-norm epsilon.
    #[config(default = 1e-12)]
    pub layer_norm_eps: f64,
}

/// One post-norm transformer layer.
#[derive(Module, Debug)]
struct BertLayer {
    query: Linear,
    key: Linear,
    value: Linear,
    attention_output: Linear,
    attention_norm: LayerNorm,
    intermediate: Linear,
    output: Linear,
    output_norm: LayerNorm,
    heads: usize,
}

/// The MiniLM BERT encoder, frozen.
#[derive(Module, Debug)]
pub struct MiniLm {
    word_embeddings: Embedding,
    position_embeddings: Embedding,
    token_type_embeddings: Embedding,
    embedding_norm: LayerNorm,
    layers: Vec<BertLayer>,
}

impl MiniLmConfig {
    /// Builds the encoder with placeholder weights; use [`MiniLm::load`] for the real ones.
    pub fn init(&self, device: &Device) -> MiniLm {
        let hidden = self.hidden_size;
        let norm = || {
            LayerNormConfig::new(hidden)
                .with_epsilon(self.layer_norm_eps)
                .init(device)
        };
        let layers = (0..self.layers)
            .map(|_| BertLayer {
                query: LinearConfig::new(hidden, hidden).init(device),
                key: LinearConfig::new(hidden, hidden).init(device),
                value: LinearConfig::new(hidden, hidden).init(device),
                attention_output: LinearConfig::new(hidden, hidden).init(device),
                attention_norm: norm(),
                intermediate: LinearConfig::new(hidden, self.intermediate_size).init(device),
                output: LinearConfig::new(self.intermediate_size, hidden).init(device),
                output_norm: norm(),
                heads: self.heads,
            })
            .collect();
        MiniLm {
            word_embeddings: EmbeddingConfig::new(self.vocab_size, hidden).init(device),
            position_embeddings: EmbeddingConfig::new(self.max_positions, hidden).init(device),
            token_type_embeddings: EmbeddingConfig::new(self.type_vocab_size, hidden).init(device),
            embedding_norm: norm(),
            layers,
        }
    }
}

impl BertLayer {
    /// `x`: `[batch, tokens, hidden]`; `mask_bias`: `[batch, 1, 1, tokens]`, 0 for real tokens
    /// and a large negative number for padding.
    fn forward(&self, x: Tensor<3>, mask_bias: Tensor<4>) -> Tensor<3> {
        let [batch, tokens, hidden] = x.dims();
        let head_dim = hidden / self.heads;

        // Multi-head self-attention: [batch, tokens, hidden] -> [batch, heads, tokens, head_dim].
        let split = |t: Tensor<3>| {
            t.reshape([batch, tokens, self.heads, head_dim])
                .swap_dims(1, 2)
        };
        let query = split(self.query.forward(x.clone()));
        let key = split(self.key.forward(x.clone()));
        let value = split(self.value.forward(x.clone()));
        let scores = query.matmul(key.transpose()) / (head_dim as f64).sqrt() + mask_bias;
        let context = softmax(scores, 3).matmul(value);
        // [batch, heads, tokens, head_dim] -> [batch, tokens, hidden]
        let context = context.swap_dims(1, 2).reshape([batch, tokens, hidden]);
        let x = self
            .attention_norm
            .forward(self.attention_output.forward(context) + x);

        // Feed-forward with a residual connection.
        let hidden_states = gelu(self.intermediate.forward(x.clone()));
        self.output_norm
            .forward(self.output.forward(hidden_states) + x)
    }
}

impl MiniLm {
    /// Loads the encoder from a weights file in Hugging Face `BertModel` names.
    pub fn load(config: &MiniLmConfig, weights: &mut WeightFile, device: &Device) -> Result<Self> {
        let model = config.init(device);
        let mut layers = Vec::with_capacity(model.layers.len());
        for (index, layer) in model.layers.into_iter().enumerate() {
            let prefix = format!("encoder.layer.{index}");
            layers.push(BertLayer {
                query: weights.linear(
                    &format!("{prefix}.attention.self.query"),
                    layer.query,
                    device,
                )?,
                key: weights.linear(&format!("{prefix}.attention.self.key"), layer.key, device)?,
                value: weights.linear(
                    &format!("{prefix}.attention.self.value"),
                    layer.value,
                    device,
                )?,
                attention_output: weights.linear(
                    &format!("{prefix}.attention.output.dense"),
                    layer.attention_output,
                    device,
                )?,
                attention_norm: weights.layer_norm(
                    &format!("{prefix}.attention.output.LayerNorm"),
                    layer.attention_norm,
                    device,
                )?,
                intermediate: weights.linear(
                    &format!("{prefix}.intermediate.dense"),
                    layer.intermediate,
                    device,
                )?,
                output: weights.linear(&format!("{prefix}.output.dense"), layer.output, device)?,
                output_norm: weights.layer_norm(
                    &format!("{prefix}.output.LayerNorm"),
                    layer.output_norm,
                    device,
                )?,
                heads: layer.heads,
            });
        }
        let model = MiniLm {
            word_embeddings: weights.embedding(
                "embeddings.word_embeddings",
                model.word_embeddings,
                device,
            )?,
            position_embeddings: weights.embedding(
                "embeddings.position_embeddings",
                model.position_embeddings,
                device,
            )?,
            token_type_embeddings: weights.embedding(
                "embeddings.token_type_embeddings",
                model.token_type_embeddings,
                device,
            )?,
            embedding_norm: weights.layer_norm(
                "embeddings.LayerNorm",
                model.embedding_norm,
                device,
            )?,
            layers,
        };
        Ok(model.no_grad())
    }

    /// Encodes token sequences into L2-normalised sentence embeddings.
    ///
    /// # Shapes
    /// - `token_ids`: `[batch, tokens]`, WordPiece ids with `[CLS]` ... `[SEP]`, padded with 0
    /// - `attention_mask`: `[batch, tokens]`, 1.0 for real tokens and 0.0 for padding
    /// - output: `[batch, hidden]`, unit length
    pub fn forward(&self, token_ids: Tensor<2, Int>, attention_mask: Tensor<2>) -> Tensor<2> {
        let [batch, tokens] = token_ids.dims();
        let device = token_ids.device();

        // Embeddings: word + position + token type (always segment 0), then layer norm.
        let positions = Tensor::<1, Int>::arange(0..tokens as i64, &device)
            .reshape([1, tokens])
            .repeat_dim(0, batch);
        let segments = Tensor::<2, Int>::zeros([batch, tokens], &device);
        let x = self.word_embeddings.forward(token_ids)
            + self.position_embeddings.forward(positions)
            + self.token_type_embeddings.forward(segments);
        let mut x = self.embedding_norm.forward(x);

        // Transformer layers; padded keys get a large negative bias before the softmax.
        // [batch, tokens] -> [batch, 1, 1, tokens]
        let mask_bias = (attention_mask.clone() - 1.0).reshape([batch, 1, 1, tokens]) * 1e9;
        for layer in &self.layers {
            x = layer.forward(x, mask_bias.clone());
        }

        // Mean over real tokens: [batch, tokens, hidden] -> [batch, hidden].
        let mask = attention_mask.unsqueeze_dim::<3>(2);
        let summed = (x * mask.clone()).sum_dim(1).squeeze_dim::<2>(1);
        let counts = mask.sum_dim(1).squeeze_dim::<2>(1).clamp_min(1e-9);
        let mean = summed / counts;

        // L2 normalisation, guarded against a zero vector.
        let norm = mean
            .clone()
            .powi_scalar(2)
            .sum_dim(1)
            .sqrt()
            .clamp_min(1e-12);
        mean / norm
    }
}
