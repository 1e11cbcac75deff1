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
    fn cell_center_scales_to_photo() {
        // On a 224 x 224 input each cell is 32 pixels: cell (0, 0) has its centre at 16.
        assert_eq!(cell_center([0, 0], 224, 224), [16.0, 16.0]);
        // On a 700 x 350 photo, cell (6, 3): x = 3.5 * 100, y = 6.5 * 50.
        assert_eq!(cell_center([6, 3], 700, 350), [350.0, 325.0]);
    }
}
