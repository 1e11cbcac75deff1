//! Decoding photos safely and turning them into encoder input.
//!
//! Any format the `image` crate reads (JPEG, PNG, WebP, TIFF, BMP, GIF) is accepted: grayscale,
//! 16-bit and CMYK photos are converted to 8-bit RGB, transparency is composited over white,
//! and EXIF orientation is applied so the photo is upright. Decoding is bounded by
//! [`PhotoLimits`] so a hostile or huge file cannot exhaust memory.

use std::io::Cursor;

use burn::tensor::{Device, Tensor, TensorData};
use image::imageops::FilterType;
use image::{DynamicImage, ImageDecoder, ImageReader, RgbImage, RgbaImage};

use crate::error::{Error, Result};

/// Side of the square encoder input in pixels; photos are resized to it, aspect not kept.
pub const INPUT_SIZE: usize = 224;

/// Bounds on what the decoder accepts.
#[derive(Debug, Clone, Copy)]
pub struct PhotoLimits {
    /// Maximum width and maximum height in pixels.
    pub max_side: u32,
    /// Maximum megapixels (width x height / 1e6).
    pub max_megapixels: f64,
    /// Maximum bytes the decoder may allocate.
    pub max_alloc_bytes: u64,
}

impl Default for PhotoLimits {
    /// 16384 pixels a side, 64 megapixels, 512 MiB of decoder memory: enough for any camera
    /// photo, and a bound of about 1 GiB on the peak memory of a decode.
    fn default() -> Self {
        Self {
            max_side: 16_384,
            max_megapixels: 64.0,
            max_alloc_bytes: 512 << 20,
        }
    }
}

/// The formats [`decode`] reads, for messages.
const FORMATS: &str = "JPEG, PNG, WebP, TIFF, BMP or GIF";
/// Advice on a damaged file.
const DAMAGED: &str = "the file is damaged or incomplete; copy or export it again";

/// Joins the lines of a decoder's message.
fn one_line(error: &dyn std::fmt::Display) -> String {
    error
        .to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Checks whether a JPEG's last end-of-image marker (FF D9) follows its last start-of-scan marker
/// (FF DA). A cut-off file lacks it; an EXIF thumbnail's end marker comes before the main
/// image's scan, so it does not count. Inside scan data FF is always followed by 00 or a
/// restart marker, so neither pattern occurs there by accident.
fn jpeg_complete(bytes: &[u8]) -> bool {
    let last = |marker: u8| bytes.windows(2).rposition(|pair| pair == [0xFF, marker]);
    match (last(0xDA), last(0xD9)) {
        (Some(scan), Some(end)) => end > scan,
        (None, _) => true,
        (Some(_), None) => false,
    }
}

fn photo_error(name: &str, detail: impl Into<String>) -> Error {
    Error::Photo {
        name: name.into(),
        detail: detail.into(),
    }
}

/// Decodes an upright 8-bit RGB photo from the bytes of an image file; `name` labels errors.
pub fn decode(name: &str, bytes: &[u8], limits: PhotoLimits) -> Result<RgbImage> {
    if bytes.is_empty() {
        return Err(photo_error(
            name,
            format!("the file is empty (0 bytes); choose a {FORMATS} photo"),
        ));
    }
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|error| photo_error(name, format!("cannot read the file ({error})")))?;
    if reader.format().is_none() {
        return Err(photo_error(
            name,
            format!("not an image: the file does not start like {FORMATS}"),
        ));
    }
    // The JPEG decoder fills a cut-off scan with grey instead of failing, so check the end
    // marker here.
    if reader.format() == Some(image::ImageFormat::Jpeg) && !jpeg_complete(bytes) {
        return Err(photo_error(
            name,
            format!(
                "the JPEG is truncated: its image data ends without the end-of-image marker; {DAMAGED}"
            ),
        ));
    }
    let mut decoder = reader.into_decoder().map_err(|error| match error {
        // In the wasm build the PNG decoder already rejects a huge size while reading the
        // header: a 60000 x 60000 PNG gives "Memory limit exceeded" there.
        image::ImageError::Limits(_) => photo_error(
            name,
            format!(
                "the photo is too large to decode ({}); downscale it first, for example to 4000 pixels on the longest side",
                one_line(&error)
            ),
        ),
        _ => photo_error(
            name,
            format!(
                "the image header is invalid or truncated ({}); {DAMAGED}",
                one_line(&error)
            ),
        ),
    })?;

    // Check the size before any pixel is decoded.
    let (width, height) = decoder.dimensions();
    let megapixels = f64::from(width) * f64::from(height) / 1e6;
    if width == 0 || height == 0 {
        return Err(photo_error(
            name,
            format!("the photo has no pixels ({width} x {height})"),
        ));
    }
    if width > limits.max_side || height > limits.max_side || megapixels > limits.max_megapixels {
        return Err(photo_error(
            name,
            format!(
                "{width} x {height} pixels ({megapixels:.1} MP) exceeds the limit of {} pixels a side and {} MP; \
                 downscale it first, for example to 4000 pixels on the longest side",
                limits.max_side, limits.max_megapixels
            ),
        ));
    }
    let mut decoder_limits = image::Limits::default();
    decoder_limits.max_image_width = Some(limits.max_side);
    decoder_limits.max_image_height = Some(limits.max_side);
    decoder_limits.max_alloc = Some(limits.max_alloc_bytes);
    decoder
        .set_limits(decoder_limits)
        .map_err(|error| photo_error(name, format!("exceeds the decoding limits ({error})")))?;

    let orientation = decoder.orientation().ok();
    let mut image = DynamicImage::from_decoder(decoder).map_err(|error| {
        photo_error(
            name,
            format!(
                "the file is truncated or corrupt ({}); {DAMAGED}",
                one_line(&error)
            ),
        )
    })?;
    if let Some(orientation) = orientation {
        image.apply_orientation(orientation);
    }
    Ok(flatten_to_rgb(image))
}

/// Converts any colour type to 8-bit RGB, compositing transparency over white.
fn flatten_to_rgb(image: DynamicImage) -> RgbImage {
    if !image.color().has_alpha() {
        return image.to_rgb8();
    }
    let rgba: RgbaImage = image.to_rgba8();
    let mut rgb = RgbImage::new(rgba.width(), rgba.height());
    for (target, source) in rgb.pixels_mut().zip(rgba.pixels()) {
        let alpha = u32::from(source[3]);
        for channel in 0..3 {
            let value = u32::from(source[channel]) * alpha + 255 * (255 - alpha);
            target[channel] = ((value + 127) / 255) as u8;
        }
    }
    rgb
}

/// Resizes a photo to the encoder's 224 x 224 input (bilinear, aspect not kept) and lays it out
/// as `[3, 224, 224]` RGB values on the 0..255 scale.
pub fn to_input(photo: &RgbImage) -> Vec<f32> {
    let size = INPUT_SIZE as u32;
    let resized = if photo.dimensions() == (size, size) {
        photo.clone()
    } else {
        image::imageops::resize(photo, size, size, FilterType::Triangle)
    };
    let plane = INPUT_SIZE * INPUT_SIZE;
    let mut values = vec![0f32; 3 * plane];
    for (index, pixel) in resized.pixels().enumerate() {
        for channel in 0..3 {
            values[channel * plane + index] = f32::from(pixel[channel]);
        }
    }
    values
}

/// Stacks encoder inputs from [`to_input`] into one `[batch, 3, 224, 224]` tensor.
pub fn batch_tensor(inputs: &[Vec<f32>], device: &Device) -> Tensor<4> {
    let values: Vec<f32> = inputs.iter().flatten().copied().collect();
    Tensor::from_data(
        TensorData::new(values, [inputs.len(), 3, INPUT_SIZE, INPUT_SIZE]),
        device,
    )
}
