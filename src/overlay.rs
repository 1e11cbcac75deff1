//! Rendering of heatmap overlays: the photo tinted by each phrase's upsampled attention, with
//! the winning point marked, one panel per phrase side by side.

use image::{Rgb, RgbImage};

use crate::ground::{Grounding, sample_bilinear};

/// Maximum side of one panel in pixels. Larger photos are scaled down for the overlay.
pub const MAX_PANEL_SIDE: u32 = 1024;
/// Gap between panels in pixels.
const GAP: u32 = 8;

/// Maps `t` in [0, 1] to a blue-cyan-yellow-red colour ramp (a jet-like map).
pub fn colormap(t: f32) -> [u8; 3] {
    let t = t.clamp(0.0, 1.0);
    let channel = |centre: f32| ((1.5 - (4.0 * t - centre).abs()).clamp(0.0, 1.0) * 255.0) as u8;
    [channel(3.0), channel(2.0), channel(1.0)]
}

fn draw_marker(panel: &mut RgbImage, cx: f64, cy: f64, radius: f64) {
    let (width, height) = panel.dimensions();
    let reach = radius + 3.0;
    let (x_min, x_max) = (
        (cx - reach).max(0.0) as u32,
        ((cx + reach) as u32).min(width.saturating_sub(1)),
    );
    let (y_min, y_max) = (
        (cy - reach).max(0.0) as u32,
        ((cy + reach) as u32).min(height.saturating_sub(1)),
    );
    for y in y_min..=y_max {
        for x in x_min..=x_max {
            let distance = ((f64::from(x) - cx).powi(2) + (f64::from(y) - cy).powi(2)).sqrt();
            // A white ring inside a black ring, visible on any background.
            if (distance - radius).abs() <= 1.5 {
                panel.put_pixel(x, y, Rgb([255, 255, 255]));
            } else if (distance - radius - 2.5).abs() <= 1.0 || distance <= 2.0 {
                panel.put_pixel(x, y, Rgb([0, 0, 0]));
            }
        }
    }
}

/// Draws one panel: `photo` scaled to at most [`MAX_PANEL_SIDE`], tinted by the grounding's
/// heatmap at `opacity` (0..1) where attention is high, with its point marked.
pub fn render_panel(photo: &RgbImage, grounding: &Grounding, opacity: f32) -> RgbImage {
    let (width, height) = photo.dimensions();
    let scale = (f64::from(MAX_PANEL_SIDE) / f64::from(width.max(height))).min(1.0);
    let panel_width = ((f64::from(width) * scale).round() as u32).max(1);
    let panel_height = ((f64::from(height) * scale).round() as u32).max(1);
    let mut panel = if scale < 1.0 {
        image::imageops::resize(
            photo,
            panel_width,
            panel_height,
            image::imageops::FilterType::Triangle,
        )
    } else {
        photo.clone()
    };

    let flat: Vec<f32> = grounding.heatmap.iter().flatten().copied().collect();
    let peak = flat.iter().copied().fold(f32::MIN_POSITIVE, f32::max);
    for (x, y, pixel) in panel.enumerate_pixels_mut() {
        let heat =
            sample_bilinear(&flat, f64::from(x), f64::from(y), panel_width, panel_height) / peak;
        let colour = colormap(heat);
        let alpha = opacity * (0.35 + 0.65 * heat.clamp(0.0, 1.0));
        for channel in 0..3 {
            let mixed =
                f32::from(pixel[channel]) * (1.0 - alpha) + f32::from(colour[channel]) * alpha;
            pixel[channel] = mixed.round().clamp(0.0, 255.0) as u8;
        }
    }

    let [x, y] = grounding.point;
    let radius = (f64::from(panel_width.min(panel_height)) / 40.0).max(4.0);
    draw_marker(&mut panel, x * scale, y * scale, radius);
    panel
}

/// Places the panels of all groundings side by side on a white background.
pub fn render(photo: &RgbImage, groundings: &[Grounding], opacity: f32) -> RgbImage {
    let panels: Vec<RgbImage> = groundings
        .iter()
        .map(|g| render_panel(photo, g, opacity))
        .collect();
    let width = panels.iter().map(RgbImage::width).sum::<u32>()
        + GAP * panels.len().saturating_sub(1) as u32;
    let height = panels.iter().map(RgbImage::height).max().unwrap_or(1);
    let mut canvas = RgbImage::from_pixel(width.max(1), height, Rgb([255, 255, 255]));
    let mut left = 0;
    for panel in &panels {
        image::imageops::replace(&mut canvas, panel, i64::from(left), 0);
        left += panel.width() + GAP;
    }
    canvas
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colormap_ends() {
        assert_eq!(colormap(0.0), [0, 0, 127]);
        assert_eq!(colormap(1.0), [127, 0, 0]);
    }
}
