//! A synthetic grounding data set for training tests: two coloured shapes on a noisy
//! background per photo, and captions that name one shape each ("a red square").

// Each test binary that includes this module uses a different part of it.
#![allow(dead_code)]

use std::path::Path;

use image::{Rgb, RgbImage};
use rand::RngExt;
use rand::rngs::ChaCha8Rng;

const SHAPES: [&str; 3] = ["square", "circle", "triangle"];
const COLOURS: [(&str, [u8; 3]); 4] = [
    ("red", [220, 30, 30]),
    ("green", [30, 180, 40]),
    ("blue", [30, 60, 220]),
    ("yellow", [230, 210, 20]),
];

pub struct Shape {
    pub kind: usize,
    pub colour: usize,
    pub bounds: [f64; 4],
}

fn inside(kind: usize, x: f64, y: f64) -> bool {
    // x, y in [0, 1] within the shape's box.
    match kind {
        0 => true,
        1 => (x - 0.5).powi(2) + (y - 0.5).powi(2) <= 0.25,
        _ => y >= 1.0 - 2.0 * x.min(1.0 - x) * 1.0 && y <= 1.0,
    }
}

/// Draws a photo with two shapes of different kinds at random, non-overlapping places.
pub fn draw(rng: &mut ChaCha8Rng) -> (RgbImage, Vec<Shape>) {
    let mut photo = RgbImage::from_fn(224, 224, |_, _| {
        let grey = rng.random_range(150..200u8);
        Rgb([grey, grey, grey])
    });
    let first = rng.random_range(0..SHAPES.len());
    let second = (first + rng.random_range(1..SHAPES.len())) % SHAPES.len();
    let mut shapes: Vec<Shape> = Vec::new();
    for kind in [first, second] {
        let size = rng.random_range(56..80) as f64;
        let bounds = loop {
            let (x, y) = (
                rng.random_range(0.0..224.0 - size),
                rng.random_range(0.0..224.0 - size),
            );
            let candidate = [x, y, x + size, y + size];
            let apart = shapes.iter().all(|s| {
                candidate[0] >= s.bounds[2]
                    || candidate[2] <= s.bounds[0]
                    || candidate[1] >= s.bounds[3]
                    || candidate[3] <= s.bounds[1]
            });
            if apart {
                break candidate;
            }
        };
        let colour = rng.random_range(0..COLOURS.len());
        for py in bounds[1] as u32..bounds[3] as u32 {
            for px in bounds[0] as u32..bounds[2] as u32 {
                let (u, v) = (
                    (f64::from(px) - bounds[0]) / size,
                    (f64::from(py) - bounds[1]) / size,
                );
                if inside(kind, u, v) {
                    photo.put_pixel(px, py, Rgb(COLOURS[colour].1));
                }
            }
        }
        shapes.push(Shape {
            kind,
            colour,
            bounds,
        });
    }
    (photo, shapes)
}

pub fn caption(shape: &Shape) -> String {
    format!("a {} {}", COLOURS[shape.colour].0, SHAPES[shape.kind])
}

/// Writes `count` photos into `dir` and returns their file names and shapes.
pub fn make_set(
    dir: &Path,
    prefix: &str,
    count: usize,
    rng: &mut ChaCha8Rng,
) -> Vec<(String, Vec<Shape>)> {
    (0..count)
        .map(|index| {
            let (photo, shapes) = draw(rng);
            let name = format!("{prefix}-{index:03}.png");
            photo.save(dir.join(&name)).unwrap();
            (name, shapes)
        })
        .collect()
}

/// Writes `count` training photos and their captions TSV (`captions.tsv`) into `root`;
/// returns the images folder.
pub fn make_training_set(root: &Path, count: usize, seed: u64) -> std::path::PathBuf {
    use rand::SeedableRng;
    let images = root.join("images");
    std::fs::create_dir_all(&images).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut tsv = String::from("image\tcaption\n");
    for (name, shapes) in make_set(&images, "train", count, &mut rng) {
        for shape in &shapes {
            tsv.push_str(&format!("{name}\t{}\n", caption(shape)));
        }
    }
    std::fs::write(root.join("captions.tsv"), tsv).unwrap();
    images
}
