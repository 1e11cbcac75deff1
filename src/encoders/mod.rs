//! The frozen encoders: image CNNs that map a photo to a 7 x 7 region map, and the sentence
//! encoder that maps a phrase to one vector. None of them is trained here.

pub mod efficientnet;
pub mod image;
pub mod minilm;
pub mod phrase;
pub mod vgg16;

pub use image::{ImageEncoder, ImageEncoderKind};
pub use phrase::{EncodedPhrases, PhraseEncoder};
