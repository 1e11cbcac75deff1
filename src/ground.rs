//! From a 7 x 7 attention map to a point in the photo, as the pointing game scores it: the
//! highest cell wins and its centre is scaled back to the photo's own size (each cell of a
//! 224 x 224 input covers 32 x 32 pixels).

use serde::Serialize;

/// Cells per side of the region grid.
pub const GRID: usize = 7;

/// Index of the highest cell of a row-major 7 x 7 map as `[row, column]`; the first one wins
/// a tie, and NaN values never win.
pub fn argmax_cell(heatmap: &[f32]) -> [usize; 2] {
    let mut best = 0;
    for (index, &value) in heatmap.iter().enumerate() {
        if value > heatmap[best] || heatmap[best].is_nan() {
            best = index;
        }
    }
    [best / GRID, best % GRID]
}

/// Centre of `cell` in the pixel coordinates of a `width` x `height` photo, as `[x, y]`.
pub fn cell_center(cell: [usize; 2], width: u32, height: u32) -> [f64; 2] {
    let [row, column] = cell;
    let x = (column as f64 + 0.5) * f64::from(width) / GRID as f64;
    let y = (row as f64 + 0.5) * f64::from(height) / GRID as f64;
    [x, y]
}

/// Samples a row-major 7 x 7 map at photo pixel (`x`, `y`) of a `width` x `height` photo by
/// bilinear interpolation between cell centres (clamped at the borders).
pub fn sample_bilinear(heatmap: &[f32], x: f64, y: f64, width: u32, height: u32) -> f32 {
    let grid = GRID as f64;
    let gx = ((x + 0.5) / f64::from(width) * grid - 0.5).clamp(0.0, grid - 1.0);
    let gy = ((y + 0.5) / f64::from(height) * grid - 0.5).clamp(0.0, grid - 1.0);
    let (x0, y0) = (gx.floor() as usize, gy.floor() as usize);
    let (x1, y1) = ((x0 + 1).min(GRID - 1), (y0 + 1).min(GRID - 1));
    let (fx, fy) = ((gx - x0 as f64) as f32, (gy - y0 as f64) as f32);
    let at = |row: usize, column: usize| heatmap[row * GRID + column];
    let top = at(y0, x0) * (1.0 - fx) + at(y0, x1) * fx;
    let bottom = at(y1, x0) * (1.0 - fx) + at(y1, x1) * fx;
    top * (1.0 - fy) + bottom * fy
}

/// The grounding of one phrase in one photo.
#[derive(Debug, Clone, Serialize)]
pub struct Grounding {
    /// The phrase as given.
    pub phrase: String,
    /// Attention over the 7 x 7 regions, row-major, summing to 1.
    pub heatmap: Vec<Vec<f32>>,
    /// The winning cell as `[row, column]`.
    pub cell: [usize; 2],
    /// The centre of the winning cell in photo pixels, `[x, y]`.
    pub point: [f64; 2],
}

impl Grounding {
    /// Builds the grounding of `phrase` from its flat 49-value map and the photo size.
    pub fn new(phrase: &str, heatmap: &[f32], width: u32, height: u32) -> Self {
        let cell = argmax_cell(heatmap);
        Self {
            phrase: phrase.to_string(),
            heatmap: heatmap.chunks(GRID).map(<[f32]>::to_vec).collect(),
            cell,
            point: cell_center(cell, width, height),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argmax_picks_first_maximum() {
        let mut map = [0.0f32; 49];
        map[10] = 0.5;
        map[30] = 0.5;
        assert_eq!(argmax_cell(&map), [1, 3]);
    }

    #[test]
    fn argmax_skips_nan() {
        let mut map = [0.1f32; 49];
        map[0] = f32::NAN;
        map[48] = 0.2;
        assert_eq!(argmax_cell(&map), [6, 6]);
    }

    #[test]
    fn bilinear_hits_cell_centres() {
        let heatmap: Vec<f32> = (0..49).map(|i| i as f32).collect();
        // Cells of a 70 x 70 photo are 10 pixels wide: the centre of cell (2, 3) lies at
        // (35, 25), which is pixel index (34.5, 24.5) since pixel centres sit at +0.5.
        let value = sample_bilinear(&heatmap, 34.5, 24.5, 70, 70);
        assert!(
            (value - 17.0).abs() < 1e-4,
            "value {value}, expected 17 within 1e-4"
        );
    }

    #[test]
    fn cell_center_scales_to_photo() {
        // On a 224 x 224 input each cell is 32 pixels: cell (0, 0) has its centre at 16.
        assert_eq!(cell_center([0, 0], 224, 224), [16.0, 16.0]);
        // On a 700 x 350 photo, cell (6, 3): x = 3.5 * 100, y = 6.5 * 50.
        assert_eq!(cell_center([6, 3], 700, 350), [350.0, 325.0]);
    }
}
