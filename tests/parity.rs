//! Parity of the frozen encoders with PyTorch: semground's outputs on a fixed photo and fixed
//! phrases against reference values that `tools/make_parity_reference.py` computed with
//! independent PyTorch implementations (torch.nn VGG16, the `efficientnet-lite-pytorch`
//! model, Hugging Face `BertModel`) on the same weights files.

use std::path::{Path, PathBuf};

use burn::tensor::{Device, Tensor};
use semground::encoders::{ImageEncoder, ImageEncoderKind, PhraseEncoder};
use semground::photo::{self, PhotoLimits};
use semground::weights::{REGENERATE_HINT, WeightFile};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn reference_values(name: &str) -> (Vec<usize>, Vec<f32>) {
    let path = root().join("tests/data/parity/reference.safetensors");
    let mut file = WeightFile::open(&path, "run python3 tools/make_parity_reference.py").unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let parsed = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let shape = parsed.tensor(name).unwrap().shape().to_vec();
    (shape.clone(), file.values(name, &shape).unwrap())
}

/// Asserts `|actual - expected| <= tolerance * max|expected|` element-wise, printing the
/// worst element, both values and the tolerance on failure.
fn assert_close(what: &str, actual: &[f32], expected: &[f32], tolerance: f32) {
    assert_eq!(actual.len(), expected.len(), "{what}: length differs");
    let scale = expected.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-12);
    let (worst, difference) = actual
        .iter()
        .zip(expected)
        .map(|(a, e)| (a - e).abs())
        .enumerate()
        .fold(
            (0, 0f32),
            |best, (i, d)| if d > best.1 { (i, d) } else { best },
        );
    println!(
        "{what}: max |difference| {difference:.3e} at {worst}, scale {scale:.3e}, relative {:.3e}",
        difference / scale
    );
    assert!(
        difference <= tolerance * scale,
        "{what}: element {worst} is {} but PyTorch gives {}; |difference| {difference:.3e} exceeds \
         tolerance {tolerance:e} x max|reference| {scale:.3e}",
        actual[worst],
        expected[worst],
    );
}

fn photo_tensor(device: &Device) -> Tensor<4> {
    let path = root().join("tests/data/parity/photo-224.png");
    let bytes = std::fs::read(&path).unwrap();
    let photo = photo::decode("photo-224.png", &bytes, PhotoLimits::default()).unwrap();
    photo::batch_tensor(&[photo::to_input(&photo)], device)
}

fn image_encoder(kind: ImageEncoderKind, device: &Device) -> ImageEncoder {
    let path = root().join("weights").join(kind.weights_file());
    ImageEncoder::load(
        kind,
        WeightFile::open(&path, REGENERATE_HINT).unwrap(),
        device,
    )
    .unwrap()
}

fn encoder_parity(kind: ImageEncoderKind, reference_name: &str, tolerance: f32) {
    let device = Device::flex();
    let output = image_encoder(kind, &device).forward(photo_tensor(&device));
    let (shape, expected) = reference_values(reference_name);
    assert_eq!(output.dims().to_vec(), shape, "{kind} output shape");
    let actual = output.into_data().try_into_vec::<f32>().unwrap();
    assert_close(reference_name, &actual, &expected, tolerance);
}

#[test]
fn vgg16_matches_pytorch() {
    encoder_parity(ImageEncoderKind::Vgg16, "vgg16_pool5", 1e-5);
}

#[test]
fn efficientnet_lite0_matches_pytorch() {
    encoder_parity(
        ImageEncoderKind::EfficientNetLite0,
        "efficientnet_lite0",
        2e-5,
    );
}

#[derive(serde::Deserialize)]
struct Phrases {
    phrases: Vec<String>,
    token_ids: Vec<Vec<u32>>,
}

fn phrase_encoder(device: &Device) -> PhraseEncoder {
    let dir = root().join("weights");
    let tokenizer = std::fs::read(dir.join("tokenizer.json")).unwrap();
    let weights = WeightFile::open(&dir.join("minilm_l6.safetensors"), REGENERATE_HINT).unwrap();
    PhraseEncoder::load(&tokenizer, weights, device).unwrap()
}

fn phrases() -> Phrases {
    let text =
        std::fs::read_to_string(Path::new(&root()).join("tests/data/parity/phrases.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn tokenizer_matches_huggingface() {
    let device = Device::flex();
    let encoder = phrase_encoder(&device);
    let reference = phrases();
    for (phrase, expected) in reference.phrases.iter().zip(&reference.token_ids) {
        let (ids, _) = encoder.tokenize(phrase).unwrap();
        assert_eq!(&ids, expected, "token ids of {phrase:?}");
    }
}

#[test]
fn minilm_matches_pytorch() {
    let device = Device::flex();
    let encoder = phrase_encoder(&device);
    let reference = phrases();
    let encoded = encoder.encode(&reference.phrases, &device).unwrap();
    let (shape, expected) = reference_values("minilm_embeddings");
    assert_eq!(encoded.embeddings.dims().to_vec(), shape, "embedding shape");
    let actual = encoded
        .embeddings
        .into_data()
        .try_into_vec::<f32>()
        .unwrap();
    assert_close("minilm_embeddings", &actual, &expected, 1e-5);
    // The long phrase is the only one over the limit.
    let last = reference.phrases.len() - 1;
    assert_eq!(
        encoded.truncated.iter().map(|t| t.0).collect::<Vec<_>>(),
        vec![last],
        "truncated phrases"
    );
}
