//! semground: phrase grounding learned without boxes.
//!
//! The model of Javed, Saxena and Gandhi, "Learning Unsupervised Visual Grounding Through
//! Semantic Self-Supervision" (IJCAI 2019): a frozen image CNN and a frozen phrase encoder,
//! an attention MLP over the 7 x 7 region map, trained only to name the noun concept that a
//! *concept batch* of photo-phrase pairs shares. The same code runs natively and in wasm32.
//!
//! - [`encoders`]: the frozen networks (VGG16, EfficientNet-Lite0, MiniLM).
//! - [`head`]: the trainable attention, concept decoder and loss.
//! - [`model`]: everything assembled; [`ground`]: from maps to points.
//! - [`photo`]: safe decoding; [`weights`]: checked loading of safetensors files.
//! - `web` (wasm32 only): the browser bindings used by the page in `www/`.

pub mod data;
pub mod encoders;
pub mod error;
pub mod eval;
pub mod ground;
pub mod head;
pub mod model;
pub mod photo;
pub mod progress;
pub mod text;
pub mod weights;

#[cfg(not(target_arch = "wasm32"))]
pub mod cache;
#[cfg(not(target_arch = "wasm32"))]
pub mod features;
#[cfg(not(target_arch = "wasm32"))]
pub mod files;
#[cfg(not(target_arch = "wasm32"))]
pub mod overlay;
#[cfg(not(target_arch = "wasm32"))]
pub mod train;
#[cfg(target_arch = "wasm32")]
pub mod web;

pub use error::{Error, Result};
