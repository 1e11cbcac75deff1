//! Segmentation masks for `--target mask`: COCO-style polygons and run-length encodings (RLE),
//! as COCO instances and RefCLEF store them. A point is tested against a mask directly,
//! without drawing the mask: an even-odd test for polygons, a search of the runs for RLE.

use serde::{Deserialize, Serialize};

/// A segmentation mask of one object, in the photo's pixel coordinates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mask {
    /// Polygons as flat `[x1, y1, x2, y2, ...]` lists; the object is their union.
    Polygons(Vec<Vec<f64>>),
    /// COCO run-length encoding: runs over the pixels in column-major order (down each
    /// column, then to the next), alternating background and object, starting with
    /// background.
    Rle {
        /// Photo height in pixels.
        height: u32,
        /// Photo width in pixels.
        width: u32,
        /// Run lengths.
        counts: Vec<u32>,
    },
}

impl Mask {
    /// Tests whether `point` (pixels, continuous: pixel `(i, j)` covers `[i, i + 1)`) lies on
    /// the object, or within `tolerance` pixels of it.
    pub fn contains(&self, point: [f64; 2], tolerance: f64) -> bool {
        match self {
            Mask::Polygons(polygons) => polygons
                .iter()
                .any(|polygon| polygon_contains(polygon, point, tolerance)),
            Mask::Rle {
                height,
                width,
                counts,
            } => rle_contains(*height, *width, counts, point, tolerance),
        }
    }

    /// Number of object pixels (for polygons, the area enclosed, overlaps counted twice).
    pub fn area(&self) -> f64 {
        match self {
            Mask::Polygons(polygons) => polygons.iter().map(|p| polygon_area(p)).sum(),
            Mask::Rle { counts, .. } => counts
                .iter()
                .skip(1)
                .step_by(2)
                .map(|&c| f64::from(c))
                .sum(),
        }
    }
}

/// Tests whether `point` hits any of `masks`.
pub fn hits_mask(point: [f64; 2], masks: &[Mask], tolerance: f64) -> bool {
    masks.iter().any(|mask| mask.contains(point, tolerance))
}

fn vertices(polygon: &[f64]) -> impl Iterator<Item = ([f64; 2], [f64; 2])> + '_ {
    let count = polygon.len() / 2;
    (0..count).map(move |i| {
        let j = (i + 1) % count;
        (
            [polygon[2 * i], polygon[2 * i + 1]],
            [polygon[2 * j], polygon[2 * j + 1]],
        )
    })
}

fn polygon_contains(polygon: &[f64], point: [f64; 2], tolerance: f64) -> bool {
    if polygon.len() < 6 {
        return false;
    }
    let [x, y] = point;
    // Even-odd rule: count the edges crossed by a ray going right from the point.
    let mut inside = false;
    for ([x0, y0], [x1, y1]) in vertices(polygon) {
        if (y0 > y) != (y1 > y) && x < x0 + (y - y0) * (x1 - x0) / (y1 - y0) {
            inside = !inside;
        }
    }
    inside
        || (tolerance > 0.0
            && vertices(polygon).any(|(a, b)| segment_distance(point, a, b) <= tolerance))
}

fn segment_distance(point: [f64; 2], a: [f64; 2], b: [f64; 2]) -> f64 {
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let length = dx * dx + dy * dy;
    let t = if length > 0.0 {
        (((point[0] - a[0]) * dx + (point[1] - a[1]) * dy) / length).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (px, py) = (a[0] + t * dx - point[0], a[1] + t * dy - point[1]);
    (px * px + py * py).sqrt()
}

fn polygon_area(polygon: &[f64]) -> f64 {
    if polygon.len() < 6 {
        return 0.0;
    }
    let twice: f64 = vertices(polygon)
        .map(|([x0, y0], [x1, y1])| x0 * y1 - x1 * y0)
        .sum();
    twice.abs() / 2.0
}

/// Tests whether pixel `index` (column-major) is an object pixel.
fn rle_pixel(counts: &[u32], index: u64) -> bool {
    let mut start = 0u64;
    for (run, &length) in counts.iter().enumerate() {
        let end = start + u64::from(length);
        if index < end {
            return run % 2 == 1;
        }
        start = end;
    }
    false
}

fn rle_contains(height: u32, width: u32, counts: &[u32], point: [f64; 2], tolerance: f64) -> bool {
    let pixel = |column: i64, row: i64| {
        column >= 0
            && row >= 0
            && column < i64::from(width)
            && row < i64::from(height)
            && rle_pixel(counts, column as u64 * u64::from(height) + row as u64)
    };
    let [x, y] = point;
    if pixel(x.floor() as i64, y.floor() as i64) {
        return true;
    }
    if tolerance <= 0.0 {
        return false;
    }
    // Any object pixel whose centre lies within the tolerance counts.
    let reach = tolerance.ceil() as i64 + 1;
    let (cx, cy) = (x.floor() as i64, y.floor() as i64);
    for column in cx - reach..=cx + reach {
        for row in cy - reach..=cy + reach {
            let (dx, dy) = (column as f64 + 0.5 - x, row as f64 + 0.5 - y);
            if dx * dx + dy * dy <= tolerance * tolerance && pixel(column, row) {
                return true;
            }
        }
    }
    false
}

/// Decodes the compressed `counts` string of COCO's RLE, as pycocotools' `rleToString`
/// writes it. Each run is a variable-length number in 5-bit groups, one character per group
/// counted from 48 (`'0'`). Bit 5 of a group marks that more groups follow, and bit 4 of the
/// last group is the sign. From the fourth run on, a number is the difference from the run
/// two before.
pub fn decode_rle_string(text: &str) -> Result<Vec<u32>, String> {
    let bytes = text.as_bytes();
    let mut counts: Vec<i64> = Vec::new();
    let mut position = 0;
    while position < bytes.len() {
        let mut value: i64 = 0;
        let mut shift = 0;
        loop {
            let byte = *bytes
                .get(position)
                .ok_or_else(|| format!("RLE string ends inside a number at byte {position}"))?;
            if !(48..48 + 64).contains(&byte) {
                return Err(format!(
                    "RLE string has character {:?} at byte {position}",
                    byte as char
                ));
            }
            if shift > 60 {
                return Err(format!("RLE number too long at byte {position}"));
            }
            let group = i64::from(byte - 48);
            value |= (group & 0x1f) << shift;
            position += 1;
            shift += 5;
            if group & 0x20 == 0 {
                if group & 0x10 != 0 {
                    value |= -1i64 << shift;
                }
                break;
            }
        }
        if counts.len() > 2 {
            value += counts[counts.len() - 2];
        }
        counts.push(value);
    }
    counts
        .into_iter()
        .enumerate()
        .map(|(index, count)| {
            u32::try_from(count).map_err(|_| format!("RLE run {index} has length {count}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polygon_square_with_tolerance() {
        let square = Mask::Polygons(vec![vec![10.0, 10.0, 20.0, 10.0, 20.0, 20.0, 10.0, 20.0]]);
        assert!(square.contains([15.0, 15.0], 0.0));
        assert!(!square.contains([25.0, 15.0], 0.0));
        assert!(square.contains([25.0, 15.0], 5.0));
        assert!(!square.contains([25.5, 15.0], 5.0));
        assert_eq!(square.area(), 100.0);
    }

    #[test]
    fn rle_column_major() {
        // 3 x 2 photo (height 3, width 2): pixels in order (0,0) (0,1) (0,2) (1,0) (1,1) (1,2)
        // as (column, row). Runs: 4 background, 1 object, 1 background: object at column 1,
        // row 1, the pixel covering [1, 2) x [1, 2).
        let mask = Mask::Rle {
            height: 3,
            width: 2,
            counts: vec![4, 1, 1],
        };
        assert!(mask.contains([1.5, 1.5], 0.0));
        assert!(!mask.contains([0.5, 1.5], 0.0));
        assert!(!mask.contains([1.5, 2.5], 0.0));
        assert!(mask.contains([0.5, 1.5], 1.0));
        assert_eq!(mask.area(), 1.0);
    }

    #[test]
    fn rle_string_matches_pycocotools() {
        // Strings from pycocotools 2.0 `mask.encode`: a 4 x 4 mask with column 1, rows 1-2
        // and all of column 2 set, and an 8 x 1 mask with rows 1-5 and 7 set (its last run
        // is a negative difference).
        assert_eq!(decode_rle_string("52123").unwrap(), vec![5, 2, 1, 4, 4]);
        assert_eq!(decode_rle_string("151L").unwrap(), vec![1, 5, 1, 1]);
        assert!(
            decode_rle_string("5 2")
                .unwrap_err()
                .contains("character ' '")
        );
    }
}
