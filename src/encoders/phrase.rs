//! The frozen phrase encoder: the MiniLM WordPiece tokenizer (from `tokenizer.json`) feeding
//! [`MiniLm`]. Phrases are checked, truncated to the encoder's limit with a warning, and
//! padded to the longest phrase of the batch.

use burn::tensor::{Device, Int, Tensor, TensorData};
use tokenizers::Tokenizer;

use super::minilm::{MiniLm, MiniLmConfig};
use crate::error::{Error, Result};
use crate::weights::{REGENERATE_HINT, WeightFile};

/// Maximum tokens per phrase, `[CLS]` and `[SEP]` included: the `max_seq_length` that
/// sentence-transformers sets for all-MiniLM-L6-v2. Longer phrases are truncated.
pub const MAX_TOKENS: usize = 256;

/// Phrase embeddings and what happened on the way.
#[derive(Debug, Clone)]
pub struct EncodedPhrases {
    /// `[phrases, 384]`, unit-length rows.
    pub embeddings: Tensor<2>,
    /// For each phrase that was too long: its index and its token count before truncation.
    pub truncated: Vec<(usize, usize)>,
}

/// Tokenizer and BERT encoder together.
#[derive(Debug)]
pub struct PhraseEncoder {
    tokenizer: Tokenizer,
    model: MiniLm,
    /// Width of the embeddings.
    pub dim: usize,
}

impl PhraseEncoder {
    /// Loads the tokenizer from `tokenizer_json` (the bytes of `tokenizer.json`) and the
    /// encoder from `weights`.
    pub fn load(tokenizer_json: &[u8], mut weights: WeightFile, device: &Device) -> Result<Self> {
        let mut tokenizer =
            Tokenizer::from_bytes(tokenizer_json).map_err(|error| Error::Weights {
                file: "tokenizer.json".into(),
                detail: format!("not a readable tokenizer ({error})"),
                fix: REGENERATE_HINT,
            })?;
        // The file pads every phrase to 128 tokens and truncates silently; this encoder pads
        // per batch and truncates with a warning instead.
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(None)
            .map_err(|error| Error::Weights {
                file: "tokenizer.json".into(),
                detail: format!("cannot disable truncation ({error})"),
                fix: REGENERATE_HINT,
            })?;

        let config = MiniLmConfig::new();
        let model = MiniLm::load(&config, &mut weights, device)?;
        weights.finish()?;
        Ok(Self {
            tokenizer,
            model,
            dim: config.hidden_size,
        })
    }

    /// Tokenizes one phrase into WordPiece ids with `[CLS]` and `[SEP]`, truncated to
    /// [`MAX_TOKENS`]. Returns the ids and the untruncated length.
    pub fn tokenize(&self, phrase: &str) -> Result<(Vec<u32>, usize)> {
        if phrase.trim().is_empty() {
            return Err(Error::Phrase {
                phrase: phrase.into(),
                detail:
                    "the phrase is empty or only whitespace; type a few words such as \"a red car\""
                        .into(),
            });
        }
        let encoding = self
            .tokenizer
            .encode(phrase, true)
            .map_err(|error| Error::Phrase {
                phrase: phrase.into(),
                detail: format!("the tokenizer failed ({error})"),
            })?;
        let mut ids = encoding.get_ids().to_vec();
        let full_length = ids.len();
        if ids.len() <= 2 {
            return Err(Error::Phrase {
                phrase: phrase.into(),
                detail: "the phrase has no tokens the encoder can read (only control characters?)"
                    .into(),
            });
        }
        if ids.len() > MAX_TOKENS {
            // Keep the final [SEP]: the encoder was trained with it closing every sequence.
            let sep = ids[ids.len() - 1];
            ids.truncate(MAX_TOKENS - 1);
            ids.push(sep);
        }
        Ok((ids, full_length))
    }

    /// Encodes phrases into unit-length embeddings, `[phrases, 384]`.
    pub fn encode<S: AsRef<str>>(&self, phrases: &[S], device: &Device) -> Result<EncodedPhrases> {
        if phrases.is_empty() {
            return Err(Error::Phrase {
                phrase: String::new(),
                detail: "no phrase was given".into(),
            });
        }
        let mut sequences = Vec::with_capacity(phrases.len());
        let mut truncated = Vec::new();
        for (index, phrase) in phrases.iter().enumerate() {
            let (ids, full_length) = self.tokenize(phrase.as_ref())?;
            if full_length > ids.len() {
                truncated.push((index, full_length));
            }
            sequences.push(ids);
        }

        // Pad to the longest phrase; the mask keeps padding out of attention and pooling.
        let batch = sequences.len();
        let tokens = sequences.iter().map(Vec::len).max().unwrap_or(0);
        let mut ids = vec![0i64; batch * tokens];
        let mut mask = vec![0f32; batch * tokens];
        for (row, sequence) in sequences.iter().enumerate() {
            for (column, &id) in sequence.iter().enumerate() {
                ids[row * tokens + column] = i64::from(id);
                mask[row * tokens + column] = 1.0;
            }
        }
        let ids = Tensor::<2, Int>::from_data(TensorData::new(ids, [batch, tokens]), device);
        let mask = Tensor::<2>::from_data(TensorData::new(mask, [batch, tokens]), device);

        let embeddings = self.model.forward(ids, mask);
        Ok(EncodedPhrases {
            embeddings,
            truncated,
        })
    }
}
