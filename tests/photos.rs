//! Photo decoding on the fixtures of tests/data/photos (made by tools/make_photo_fixtures.py):
//! every colour type is converted to upright 8-bit RGB, and broken files give clear errors.

use std::path::PathBuf;

use image::RgbImage;
use semground::photo::{self, PhotoLimits};

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/photos")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|error| panic!("fixture {}: {error}", path.display()))
}

fn decode(name: &str) -> RgbImage {
    photo::decode(name, &fixture(name), PhotoLimits::default())
        .unwrap_or_else(|error| panic!("{name}: {error}"))
}

fn decode_error(name: &str) -> String {
    match photo::decode(name, &fixture(name), PhotoLimits::default()) {
        Ok(_) => panic!("{name} decoded, expected an error"),
        Err(error) => error.to_string(),
    }
}

/// Asserts that the pixel at (`x`, `y`) is within `tolerance` of `expected` on every channel
/// (JPEG compression moves values a little).
fn assert_pixel(image: &RgbImage, x: u32, y: u32, expected: [u8; 3], tolerance: u8) {
    let actual = image.get_pixel(x, y).0;
    for channel in 0..3 {
        assert!(
            actual[channel].abs_diff(expected[channel]) <= tolerance,
            "pixel ({x}, {y}) is {actual:?}, expected {expected:?} within {tolerance}"
        );
    }
}

#[test]
fn rgb_jpeg_decodes() {
    let image = decode("rgb.jpg");
    assert_eq!(image.dimensions(), (40, 20));
    assert_pixel(&image, 5, 10, [255, 0, 0], 40);
    assert_pixel(&image, 35, 10, [0, 0, 255], 40);
}

#[test]
fn grayscale_becomes_rgb() {
    let image = decode("gray.png");
    assert_pixel(&image, 5, 10, [0, 0, 0], 0);
    assert_pixel(&image, 35, 10, [255, 255, 255], 0);
}

#[test]
fn sixteen_bit_becomes_eight_bit() {
    let image = decode("gray16.png");
    assert_pixel(&image, 5, 10, [255, 255, 255], 0);
    assert_pixel(&image, 35, 10, [0, 0, 0], 0);
}

#[test]
fn transparency_composited_over_white() {
    let image = decode("rgba.png");
    assert_pixel(&image, 5, 10, [255, 0, 0], 0);
    assert_pixel(&image, 35, 10, [255, 255, 255], 0);
}

#[test]
fn cmyk_jpeg_becomes_rgb() {
    let image = decode("cmyk.jpg");
    assert_pixel(&image, 5, 10, [255, 0, 0], 60);
    assert_pixel(&image, 35, 10, [0, 0, 255], 60);
}

#[test]
fn exif_orientation_applied() {
    // Stored 40 x 20 with red on the left; orientation 6 makes it 20 x 40 with red on top.
    let image = decode("exif-rotated.jpg");
    assert_eq!(image.dimensions(), (20, 40));
    assert_pixel(&image, 10, 5, [255, 0, 0], 40);
    assert_pixel(&image, 10, 35, [0, 0, 255], 40);
}

#[test]
fn empty_file_rejected() {
    let error = decode_error("empty.jpg");
    assert!(error.contains("empty.jpg"), "{error}");
    assert!(error.contains("empty (0 bytes)"), "{error}");
}

#[test]
fn text_file_rejected() {
    let error = decode_error("not-an-image.jpg");
    assert!(error.contains("not an image"), "{error}");
}

#[test]
fn truncated_file_rejected() {
    let error = decode_error("truncated.jpg");
    assert!(
        error.contains("truncated or corrupt") || error.contains("invalid or truncated"),
        "{error}"
    );
}

#[test]
fn truncated_scan_rejected() {
    // A JPEG decoder fills a cut-off scan with grey; the missing end marker gives it away.
    let error = decode_error("truncated-scan.jpg");
    assert!(error.contains("the JPEG is truncated"), "{error}");
}

#[test]
fn huge_photo_rejected_before_decoding() {
    let error = decode_error("huge-header.png");
    assert!(error.contains("60000 x 60000"), "{error}");
    assert!(
        error.contains("exceeds the limit of 16384 pixels a side"),
        "{error}"
    );
}

#[test]
fn limits_are_configurable() {
    let limits = PhotoLimits {
        max_side: 30,
        ..PhotoLimits::default()
    };
    let error = photo::decode("rgb.jpg", &fixture("rgb.jpg"), limits)
        .unwrap_err()
        .to_string();
    assert!(error.contains("40 x 20"), "{error}");
}

#[test]
fn input_is_channel_planes() {
    let input = photo::to_input(&decode("gray.png"));
    assert_eq!(input.len(), 3 * 224 * 224);
    // After resizing, the left edge is black and the right edge white, in all three planes.
    for plane in 0..3 {
        let row = &input[plane * 224 * 224 + 100 * 224..][..224];
        assert!(row[0] < 1.0, "plane {plane} left {}", row[0]);
        assert!(row[223] > 254.0, "plane {plane} right {}", row[223]);
    }
}
