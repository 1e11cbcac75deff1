//! The pointing game: a heatmap scores a hit when its maximum lies inside a ground-truth box
//! of the phrase. Each variant in use is explicit here: the projection of Javed et al. (IJCAI
//! 2019; argmax cell, its centre scaled to the photo) or upsampling before the argmax, the
//! 15-pixel tolerance of Zhang et al. (ECCV 2016), and the random, center and visual-only
//! baselines.

use serde::{Deserialize, Serialize};

use crate::ground::{GRID, argmax_cell, cell_center, sample_bilinear};

/// Projection of a 7 x 7 map to a point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(not(target_arch = "wasm32"), derive(clap::ValueEnum))]
pub enum Protocol {
    /// The centre of the highest of the 49 cells, scaled to the photo (each cell of the
    /// 224 x 224 input covers 32 x 32 pixels).
    Paper,
    /// Bilinear upsampling of the map to the photo's size, then the highest pixel.
    Upsampled,
}

/// Source of the point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(not(target_arch = "wasm32"), derive(clap::ValueEnum))]
pub enum Method {
    /// The grounding model's attention map.
    Model,
    /// A uniformly random one of the 49 cells (seeded).
    Random,
    /// The centre of the photo.
    Center,
    /// The channel mean of the frozen image encoder's map.
    Visual,
}

/// Hit target: the region a point must land in to score a hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(not(target_arch = "wasm32"), derive(clap::ValueEnum))]
pub enum Target {
    /// Any ground-truth box of the phrase.
    Box,
    /// Any segmentation mask of the phrase (COCO and RefCLEF have them).
    Mask,
}

/// An axis-aligned box in photo pixels, `[x_min, y_min, x_max, y_max]`, max exclusive.
pub type BoxXyxy = [f64; 4];

/// Projects a map to a point under `protocol`, in pixels of a `width` x `height` photo.
pub fn map_point(heatmap: &[f32], width: u32, height: u32, protocol: Protocol) -> [f64; 2] {
    match protocol {
        Protocol::Paper => cell_center(argmax_cell(heatmap), width, height),
        Protocol::Upsampled => {
            let mut best = (f32::NEG_INFINITY, 0u32, 0u32);
            for y in 0..height {
                for x in 0..width {
                    let value = sample_bilinear(heatmap, f64::from(x), f64::from(y), width, height);
                    if value > best.0 {
                        best = (value, x, y);
                    }
                }
            }
            [f64::from(best.1) + 0.5, f64::from(best.2) + 0.5]
        }
    }
}

/// Returns the centre of a `width` x `height` photo.
pub fn center_point(width: u32, height: u32) -> [f64; 2] {
    [f64::from(width) / 2.0, f64::from(height) / 2.0]
}

/// Computes the visual-only map: the mean over channels of a `[m, 7, 7]` feature map.
pub fn channel_mean(features: &[f32]) -> Vec<f32> {
    let regions = GRID * GRID;
    let channels = features.len() / regions;
    let mut map = vec![0f32; regions];
    for channel in features.chunks(regions) {
        for (cell, value) in map.iter_mut().zip(channel) {
            *cell += value;
        }
    }
    map.iter_mut()
        .for_each(|cell| *cell /= channels.max(1) as f32);
    map
}

/// Tests whether `point` lies inside `bounds` (max exclusive), or within `tolerance` pixels.
pub fn in_box(point: [f64; 2], bounds: &BoxXyxy, tolerance: f64) -> bool {
    let [x, y] = point;
    let [x0, y0, x1, y1] = *bounds;
    if tolerance <= 0.0 {
        return x >= x0 && x < x1 && y >= y0 && y < y1;
    }
    let dx = (x0 - x).max(0.0).max(x - x1);
    let dy = (y0 - y).max(0.0).max(y - y1);
    dx * dx + dy * dy <= tolerance * tolerance
}

/// Tests whether `point` hits any of `boxes`.
pub fn is_hit(point: [f64; 2], boxes: &[BoxXyxy], tolerance: f64) -> bool {
    boxes.iter().any(|bounds| in_box(point, bounds, tolerance))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn box_edges_max_exclusive() {
        let bounds = [10.0, 10.0, 20.0, 20.0];
        assert!(in_box([10.0, 10.0], &bounds, 0.0));
        assert!(!in_box([20.0, 15.0], &bounds, 0.0));
        assert!(in_box([34.0, 15.0], &bounds, 15.0));
        assert!(!in_box([36.0, 15.0], &bounds, 15.0));
    }

    #[test]
    fn upsampled_peak_near_cell_centre() {
        let mut map = vec![0f32; 49];
        map[2 * 7 + 5] = 1.0;
        // 70 x 70: cell (2, 5) is centred at (55, 25), between pixels 54 and 55 (and 24 and
        // 25). Those tie, so the first wins and the point is its centre.
        assert_eq!(map_point(&map, 70, 70, Protocol::Upsampled), [54.5, 24.5]);
        assert_eq!(map_point(&map, 70, 70, Protocol::Paper), [55.0, 25.0]);
    }

    #[test]
    fn channel_mean_by_hand() {
        let mut features = vec![0f32; 2 * 49];
        features[3] = 2.0;
        features[49 + 3] = 4.0;
        assert_eq!(channel_mean(&features)[3], 3.0);
    }
}
