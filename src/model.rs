//! The assembled grounding model: frozen image encoder, frozen phrase encoder and the head.
//! The CLI, the evaluator and the web page all go through [`Grounder`], so they compute the
//! same maps from the same code.

use burn::tensor::{Device, Tensor};

use crate::encoders::{EncodedPhrases, ImageEncoder, ImageEncoderKind, PhraseEncoder};
use crate::error::{Error, Result};
use crate::head::{Attention, HEAD_FORMAT, HeadConfig, HeadFile, HeadParts, load_attention};
use crate::photo;
use crate::weights::{REGENERATE_HINT, WeightFile};

/// Vocabulary size of an untrained placeholder head.
const UNTRAINED_CONCEPTS: usize = 2000;

/// How to get a correct head file, printed with head weight errors.
pub const HEAD_HINT: &str = "Pass a head saved by `semground train` (its .safetensors file with the .json \
     beside it), or omit --head to use weights/head-<encoder>.safetensors if present";

/// File names of the frozen weights inside a weights folder.
pub const PHRASE_WEIGHTS: &str = "minilm_l6.safetensors";
/// The tokenizer file inside a weights folder.
pub const TOKENIZER: &str = "tokenizer.json";

/// File name of the shipped head for an image encoder, inside the weights folder.
pub fn default_head_file(kind: ImageEncoderKind) -> String {
    format!("head-{}.safetensors", kind.name())
}

/// The bytes of every file a [`Grounder`] needs, however they were obtained (disk or fetch).
pub struct ModelFiles {
    /// Image encoder that `image_weights` belongs to.
    pub image_encoder: ImageEncoderKind,
    /// The image encoder's safetensors file.
    pub image_weights: Vec<u8>,
    /// MiniLM's safetensors file.
    pub phrase_weights: Vec<u8>,
    /// `tokenizer.json`.
    pub tokenizer: Vec<u8>,
    /// A trained head: its safetensors file and the JSON description beside it.
    pub head: Option<(Vec<u8>, Vec<u8>)>,
}

/// Encoders plus head, on one device.
#[derive(Debug)]
pub struct Grounder {
    /// The frozen image encoder.
    pub image_encoder: ImageEncoder,
    /// The frozen phrase encoder.
    pub phrase_encoder: PhraseEncoder,
    /// The head's attention, the only part of the head that inference needs.
    pub attention: Attention,
    /// Description of the head (configuration, vocabulary, whether it was trained).
    pub head_file: HeadFile,
    /// Device of every tensor.
    pub device: Device,
}

/// Parses the JSON description of a head and checks it against the encoders in use.
pub fn parse_head_file(
    label: &str,
    json: &[u8],
    kind: ImageEncoderKind,
    phrase_dim: usize,
) -> Result<HeadFile> {
    let invalid = |detail: String| Error::Config {
        name: label.to_string(),
        detail,
    };
    let head_file: HeadFile = serde_json::from_slice(json)
        .map_err(|error| invalid(format!("not a head description ({error})")))?;
    if head_file.format != HEAD_FORMAT {
        return Err(invalid(format!(
            "format is {:?}, expected {HEAD_FORMAT:?}",
            head_file.format
        )));
    }
    if head_file.image_encoder != kind {
        return Err(invalid(format!(
            "the head was trained on {} features, but the encoder in use is {kind}; pass --encoder {}",
            head_file.image_encoder, head_file.image_encoder
        )));
    }
    let attention = &head_file.config.attention;
    if attention.image_channels != kind.channels() || attention.phrase_dim != phrase_dim {
        return Err(invalid(format!(
            "the head expects {} image channels and {} phrase dimensions, the encoders give {} and {phrase_dim}",
            attention.image_channels,
            attention.phrase_dim,
            kind.channels()
        )));
    }
    head_file.config.validate()?;
    Ok(head_file)
}

impl Grounder {
    /// Loads every network from `files` onto `device`, checking each tensor.
    pub fn load(files: ModelFiles, device: &Device) -> Result<Self> {
        let kind = files.image_encoder;
        let image_weights =
            WeightFile::from_bytes(kind.weights_file(), files.image_weights, REGENERATE_HINT)?;
        let image_encoder = ImageEncoder::load(kind, image_weights, device)?;
        let phrase_weights =
            WeightFile::from_bytes(PHRASE_WEIGHTS, files.phrase_weights, REGENERATE_HINT)?;
        let phrase_encoder = PhraseEncoder::load(&files.tokenizer, phrase_weights, device)?;

        let (attention, head_file) = match files.head {
            Some((weights, json)) => {
                let head_file =
                    parse_head_file("head description", &json, kind, phrase_encoder.dim)?;
                let weights = WeightFile::from_bytes("head weights", weights, HEAD_HINT)?;
                (load_attention(&head_file, weights, device)?, head_file)
            }
            None => {
                let config = HeadConfig::for_encoders(
                    kind.channels(),
                    phrase_encoder.dim,
                    UNTRAINED_CONCEPTS,
                );
                device.seed(0);
                let head_file = HeadFile {
                    format: HEAD_FORMAT.into(),
                    image_encoder: kind,
                    config: config.clone(),
                    concepts: Vec::new(),
                    trained: false,
                    parts: HeadParts::Attention,
                    training: serde_json::Value::Null,
                };
                (config.attention.init(device), head_file)
            }
        };
        Ok(Self {
            image_encoder,
            phrase_encoder,
            attention,
            head_file,
            device: device.clone(),
        })
    }

    /// Encodes one decoded photo into its region map, `[1, m, 7, 7]`.
    pub fn encode_photo(&self, photo: &image::RgbImage) -> Tensor<4> {
        let input = photo::batch_tensor(&[photo::to_input(photo)], &self.device);
        self.image_encoder.forward(input)
    }

    /// Encodes phrases, `[phrases, 384]`.
    pub fn encode_phrases<S: AsRef<str>>(&self, phrases: &[S]) -> Result<EncodedPhrases> {
        self.phrase_encoder.encode(phrases, &self.device)
    }

    /// Attention maps of each phrase over one photo's region map.
    ///
    /// # Shapes
    /// - `image`: `[1, m, 7, 7]`, from [`Grounder::encode_photo`]
    /// - `phrases`: `[phrases, l]`
    /// - output: `[phrases, 49]`
    pub fn heatmaps(&self, image: Tensor<4>, phrases: Tensor<2>) -> Tensor<2> {
        let [count, _] = phrases.dims();
        let [_, channels, height, width] = image.dims();
        let image = image.expand([count, channels, height, width]);
        self.attention.forward(image, phrases).weights
    }
}

#[cfg(not(target_arch = "wasm32"))]
impl Grounder {
    /// Loads the networks from a weights folder laid out as `weights/` in the repository.
    /// `head` is a head's `.safetensors` file, with its `.json` beside it. Without it, the
    /// shipped head for `kind` is used if present, else an untrained one.
    pub fn from_dir(
        dir: &std::path::Path,
        kind: ImageEncoderKind,
        head: Option<&std::path::Path>,
        device: &Device,
    ) -> Result<Self> {
        let read = |path: std::path::PathBuf, fix: &'static str| {
            std::fs::read(&path).map_err(|source| match source.kind() {
                std::io::ErrorKind::NotFound => Error::Weights {
                    file: path.display().to_string(),
                    detail: "file not found".into(),
                    fix,
                },
                _ => Error::io("failed to read", &path, source),
            })
        };
        let head_path = match head {
            Some(path) => Some(path.to_path_buf()),
            None => Some(dir.join(default_head_file(kind))).filter(|path| path.exists()),
        };
        let head = match head_path {
            Some(path) => Some((
                read(path.clone(), HEAD_HINT)?,
                read(path.with_extension("json"), HEAD_HINT)?,
            )),
            None => None,
        };
        let files = ModelFiles {
            image_encoder: kind,
            image_weights: read(dir.join(kind.weights_file()), REGENERATE_HINT)?,
            phrase_weights: read(dir.join(PHRASE_WEIGHTS), REGENERATE_HINT)?,
            tokenizer: read(dir.join(TOKENIZER), REGENERATE_HINT)?,
            head,
        };
        Self::load(files, device)
    }
}
