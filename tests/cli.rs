//! The `semground ground` command as a user runs it: output formats, overlays on real photos,
//! and clear errors with exit code 2 on bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use burn::tensor::Device;
use semground::encoders::ImageEncoderKind;
use semground::head::{HEAD_FORMAT, HeadConfig, HeadFile, HeadParts};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn photo() -> PathBuf {
    root().join("tests/data/parity/photo-224.png")
}

fn semground(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_semground"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("the semground binary runs")
}

/// Runs `semground ground --image` on the test photo, followed by `args`.
fn ground_photo(args: &[&str]) -> Output {
    let photo = photo();
    let mut all = vec!["ground", "--image", photo.to_str().unwrap()];
    all.extend_from_slice(args);
    semground(&all)
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("semground-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Asserts a failed run: exit code 2 and every fragment in the error message.
fn assert_error(output: &Output, fragments: &[&str]) {
    let message = stderr(output);
    assert_eq!(
        output.status.code(),
        Some(2),
        "exit code; stderr: {message}"
    );
    assert!(
        !message.contains("panicked"),
        "panic instead of an error: {message}"
    );
    for fragment in fragments {
        assert!(
            message.contains(fragment),
            "missing {fragment:?} in: {message}"
        );
    }
}

#[derive(serde::Deserialize)]
struct JsonGrounding {
    phrase: String,
    heatmap: Vec<Vec<f32>>,
    cell: [usize; 2],
    point: [f64; 2],
}

#[test]
fn json_output_per_phrase() {
    let output = ground_photo(&["--phrase", "an astronaut", "--phrase", "the flag", "--json"]);
    assert!(output.status.success(), "stderr: {}", stderr(&output));
    assert!(
        !stderr(&output).contains("untrained"),
        "the shipped head is trained: {}",
        stderr(&output)
    );

    let groundings: Vec<JsonGrounding> =
        serde_json::from_slice(&output.stdout).expect("stdout is one JSON array");
    assert_eq!(groundings.len(), 2);
    assert_eq!(groundings[0].phrase, "an astronaut");
    assert_eq!(groundings[1].phrase, "the flag");
    for grounding in &groundings {
        assert_eq!(grounding.heatmap.len(), 7, "rows");
        assert!(
            grounding.heatmap.iter().all(|row| row.len() == 7),
            "columns"
        );
        let total: f32 = grounding.heatmap.iter().flatten().sum();
        assert!(
            (total - 1.0).abs() < 1e-4,
            "heatmap sums to {total}, expected 1 within 1e-4"
        );
        let [row, column] = grounding.cell;
        let best = grounding
            .heatmap
            .iter()
            .flatten()
            .copied()
            .fold(f32::MIN, f32::max);
        assert_eq!(grounding.heatmap[row][column], best, "cell is the maximum");
        // The photo is 224 x 224, so a cell is 32 pixels and its centre 16 pixels in.
        assert_eq!(
            grounding.point,
            [column as f64 * 32.0 + 16.0, row as f64 * 32.0 + 16.0]
        );
    }
}

#[test]
fn text_output_names_cell_and_point() {
    let output = ground_photo(&["--phrase", "a helmet", "--encoder", "efficientnet-lite0"]);
    assert!(output.status.success(), "stderr: {}", stderr(&output));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("\"a helmet\": cell (row "), "{text}");
    assert!(text.contains("in the 224 x 224 photo"), "{text}");
    assert_eq!(
        text.lines().count(),
        9,
        "a title, a legend and seven rows: {text}"
    );
}

#[test]
fn overlays_for_every_shared_photo() {
    let photos = root().join("../shared/data/photos");
    let Ok(entries) = std::fs::read_dir(&photos) else {
        eprintln!(
            "skipped: {} is missing (the shared demo photos)",
            photos.display()
        );
        return;
    };
    let out = temp_dir("overlays");
    let mut count = 0;
    for entry in entries {
        let path = entry.unwrap().path();
        let overlay = out.join(path.with_extension("png").file_name().unwrap());
        let output = semground(&[
            "ground",
            "--image",
            path.to_str().unwrap(),
            "--phrase",
            "a person",
            "--phrase",
            "the sky",
            "--out",
            overlay.to_str().unwrap(),
            "--json",
        ]);
        assert!(
            output.status.success(),
            "{}: {}",
            path.display(),
            stderr(&output)
        );
        let photo = image::open(&path).unwrap();
        let drawn =
            image::open(&overlay).unwrap_or_else(|error| panic!("{}: {error}", overlay.display()));
        // Two panels side by side, each at most 1024 pixels a side.
        let panel = photo.width().max(photo.height()).min(1024) as f64
            / photo.width().max(photo.height()) as f64;
        let expected_width = 2 * (photo.width() as f64 * panel).round() as u32 + 8;
        assert_eq!(drawn.width(), expected_width, "{}", overlay.display());
        count += 1;
    }
    assert!(count >= 17, "found {count} photos in {}", photos.display());
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn missing_photo_rejected() {
    let output = semground(&[
        "ground",
        "--image",
        "no/such/photo.jpg",
        "--phrase",
        "a cat",
    ]);
    assert_error(&output, &["failed to read photo no/such/photo.jpg"]);
}

#[test]
fn non_image_rejected() {
    let path = root().join("tests/data/photos/not-an-image.jpg");
    let output = semground(&[
        "ground",
        "--image",
        path.to_str().unwrap(),
        "--phrase",
        "a cat",
    ]);
    assert_error(&output, &["not-an-image.jpg", "not an image"]);
}

#[test]
fn empty_phrase_rejected() {
    let output = ground_photo(&["--phrase", "a cat", "--phrase", "   "]);
    assert_error(
        &output,
        &["invalid phrase \"   \"", "empty or only whitespace"],
    );
}

#[test]
fn long_phrase_truncated_with_warning() {
    let phrase = "a very long description of a small red bicycle ".repeat(40);
    let output = ground_photo(&["--phrase", &phrase, "--encoder", "efficientnet-lite0"]);
    assert!(output.status.success(), "stderr: {}", stderr(&output));
    assert!(
        stderr(&output).contains("only the first 256 were used"),
        "{}",
        stderr(&output)
    );
}

/// Creates a weights folder whose files link to the real ones, with `replace` written over
/// one file.
fn weights_with(name: &str, file: &str, replace: &[u8]) -> PathBuf {
    let dir = temp_dir(name);
    for entry in std::fs::read_dir(root().join("weights")).unwrap() {
        let path = entry.unwrap().path();
        std::os::unix::fs::symlink(&path, dir.join(path.file_name().unwrap())).unwrap();
    }
    std::fs::remove_file(dir.join(file)).unwrap();
    std::fs::write(dir.join(file), replace).unwrap();
    dir
}

#[test]
fn missing_weights_named() {
    let dir = temp_dir("no-weights");
    let output = ground_photo(&["--phrase", "a cat", "--weights", dir.to_str().unwrap()]);
    assert_error(
        &output,
        &[
            "vgg16.safetensors",
            "file not found",
            "tools/convert_weights.py",
        ],
    );
}

#[test]
fn truncated_weights_named() {
    let dir = weights_with("truncated", "minilm_l6.safetensors", b"\x10\x00\x00\x00");
    let output = ground_photo(&["--phrase", "a cat", "--weights", dir.to_str().unwrap()]);
    assert_error(
        &output,
        &[
            "minilm_l6.safetensors",
            "not a readable safetensors file",
            "tools/convert_weights.py",
        ],
    );
}

#[test]
fn wrong_shape_weights_named() {
    let zeros = vec![0u8; 64 * 3 * 5 * 5 * 2];
    let view =
        safetensors::tensor::TensorView::new(safetensors::Dtype::F16, vec![64, 3, 5, 5], &zeros)
            .unwrap();
    let bytes = safetensors::serialize([("block1_conv1.weight", view)], None).unwrap();
    let dir = weights_with("wrong-shape", "vgg16.safetensors", &bytes);
    let output = ground_photo(&["--phrase", "a cat", "--weights", dir.to_str().unwrap()]);
    assert_error(
        &output,
        &[
            "block1_conv1.weight",
            "has shape [64, 3, 5, 5], expected [64, 3, 3, 3]",
            "tools/convert_weights.py",
        ],
    );
}

/// Writes a randomly initialised head for `kind`, marked as trained, and returns its path.
fn save_head(dir: &Path, kind: ImageEncoderKind) -> PathBuf {
    let config = HeadConfig::for_encoders(kind.channels(), 384, 10);
    let head = config.init(&Device::flex());
    let path = dir.join("head.safetensors");
    std::fs::write(&path, head.to_safetensors().unwrap()).unwrap();
    let description = HeadFile {
        format: HEAD_FORMAT.into(),
        image_encoder: kind,
        config,
        concepts: (0..10).map(|i| format!("concept{i}")).collect(),
        trained: true,
        parts: HeadParts::Full,
        training: serde_json::Value::Null,
    };
    std::fs::write(
        path.with_extension("json"),
        serde_json::to_vec(&description).unwrap(),
    )
    .unwrap();
    path
}

#[test]
fn saved_head_loads() {
    let dir = temp_dir("head");
    let head = save_head(&dir, ImageEncoderKind::EfficientNetLite0);
    let output = ground_photo(&[
        "--phrase",
        "a cat",
        "--encoder",
        "efficientnet-lite0",
        "--head",
        head.to_str().unwrap(),
        "--json",
    ]);
    assert!(output.status.success(), "stderr: {}", stderr(&output));
    assert!(
        !stderr(&output).contains("untrained"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn head_of_other_encoder_rejected() {
    let dir = temp_dir("head-mismatch");
    let head = save_head(&dir, ImageEncoderKind::EfficientNetLite0);
    let output = ground_photo(&["--phrase", "a cat", "--head", head.to_str().unwrap()]);
    assert_error(
        &output,
        &[
            "trained on efficientnet-lite0 features",
            "--encoder efficientnet-lite0",
        ],
    );
}

/// Runs `semground export-head --head HEAD --out OUT`.
fn export_head(head: &Path, out: &Path) -> Output {
    semground(&[
        "export-head",
        "--head",
        head.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ])
}

#[test]
fn exported_head_grounds_same_cell() {
    let dir = temp_dir("export");
    let head = save_head(&dir, ImageEncoderKind::EfficientNetLite0);
    let exported = dir.join("head-inference.safetensors");
    let output = export_head(&head, &exported);
    assert!(output.status.success(), "stderr: {}", stderr(&output));
    assert!(stderr(&output).contains("attention only, f16"));

    let run = |head: &Path| {
        let output = ground_photo(&[
            "--phrase",
            "a cat",
            "--encoder",
            "efficientnet-lite0",
            "--head",
            head.to_str().unwrap(),
            "--json",
        ]);
        assert!(output.status.success(), "stderr: {}", stderr(&output));
        let groundings: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        groundings[0]["cell"].clone()
    };
    assert_eq!(run(&head), run(&exported));

    // An exported head is not exported again: it has no decoder left.
    let again = export_head(&exported, &dir.join("again.safetensors"));
    assert_error(&again, &["expected a full head", "Attention"]);

    // Exporting onto the input itself would destroy the full head.
    let onto_itself = export_head(&head, &head);
    assert_error(&onto_itself, &["would overwrite the full head"]);
    let missing = export_head(
        &dir.join("nothing.safetensors"),
        &dir.join("out.safetensors"),
    );
    assert_error(&missing, &["nothing.safetensors", "file not found"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn untrained_head_warned() {
    // A weights folder with the frozen networks but no shipped head.
    let dir = temp_dir("no-head");
    for entry in std::fs::read_dir(root().join("weights")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.starts_with("head-") {
            std::os::unix::fs::symlink(&path, dir.join(&name)).unwrap();
        }
    }
    let output = ground_photo(&["--phrase", "a cat", "--weights", dir.to_str().unwrap()]);
    assert!(output.status.success(), "stderr: {}", stderr(&output));
    assert!(
        stderr(&output).contains("the attention head is untrained"),
        "no untrained-head warning: {}",
        stderr(&output)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
