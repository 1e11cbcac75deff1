//! Command-line interface: argument definitions and the commands' drivers.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use burn::tensor::Device;
use clap::{Args, Parser, Subcommand};

use semground::encoders::ImageEncoderKind;
use semground::ground::Grounding;
use semground::model::Grounder;
use semground::photo::{self, PhotoLimits};

/// Phrase grounding learned from concept batches, without boxes.
#[derive(Debug, Parser)]
#[command(name = "semground", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Locate phrases in a photo: print each phrase's 7 x 7 heatmap and its point.
    Ground(GroundArgs),
}

#[derive(Debug, Args)]
struct GroundArgs {
    /// The photo (JPEG, PNG, WebP, TIFF, BMP or GIF).
    #[arg(long, value_name = "PHOTO")]
    image: PathBuf,

    /// A phrase to locate; repeat the flag for several phrases.
    #[arg(long = "phrase", value_name = "TEXT", required = true)]
    phrases: Vec<String>,

    /// The frozen image encoder.
    #[arg(long, value_enum, default_value_t = ImageEncoderKind::Vgg16)]
    encoder: ImageEncoderKind,

    /// Trained head weights (.safetensors, with its .json beside it). Default: the shipped
    /// head for the encoder in the weights folder, if there is one.
    #[arg(long, value_name = "FILE")]
    head: Option<PathBuf>,

    /// Write the photo with each phrase's heatmap and point, one panel per phrase, as PNG.
    #[arg(long, value_name = "OVERLAY.png")]
    out: Option<PathBuf>,

    /// Print one JSON array with an object per phrase instead of text.
    #[arg(long)]
    json: bool,

    /// Folder with the encoder weights and tokenizer [default: ./weights, else the one this
    /// binary was built from].
    #[arg(long, value_name = "DIR", env = "SEMGROUND_WEIGHTS")]
    weights: Option<PathBuf>,

    /// Opacity of the heatmap in the overlay, from 0 (invisible) to 1.
    #[arg(long, default_value_t = 0.6, value_parser = parse_opacity)]
    opacity: f32,
}

fn parse_opacity(text: &str) -> Result<f32, String> {
    let value: f32 = text.parse().map_err(|_| format!("{text:?} is not a number"))?;
    if (0.0..=1.0).contains(&value) { Ok(value) } else { Err(format!("{value} is outside 0..1")) }
}

/// Parses the command line and runs the chosen command.
pub fn run() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Ground(args) => ground(args),
    }
}

/// The weights folder: the flag, else `./weights`, else the repository's own.
fn weights_dir(flag: Option<PathBuf>) -> PathBuf {
    flag.unwrap_or_else(|| {
        let local = PathBuf::from("weights");
        if local.is_dir() { local } else { Path::new(env!("CARGO_MANIFEST_DIR")).join("weights") }
    })
}

fn ground(args: GroundArgs) -> Result<()> {
    let device = Device::flex();

    // Check the cheap inputs before loading 80 MB of weights.
    let name = args.image.display().to_string();
    let bytes = std::fs::read(&args.image).with_context(|| format!("failed to read photo {name}"))?;
    let photo = photo::decode(&name, &bytes, PhotoLimits::default())?;
    for phrase in &args.phrases {
        if phrase.trim().is_empty() {
            bail!("invalid phrase {phrase:?}: it is empty or only whitespace; pass --phrase \"a red car\"");
        }
    }

    let grounder = Grounder::from_dir(&weights_dir(args.weights), args.encoder, args.head.as_deref(), &device)?;
    if !grounder.head_file.trained {
        eprintln!(
            "warning: the attention head is untrained (random weights), so these heatmaps mean nothing; \
             train one with `semground train` and pass it with --head"
        );
    }

    let features = grounder.encode_photo(&photo);
    let encoded = grounder.encode_phrases(&args.phrases)?;
    for &(index, tokens) in &encoded.truncated {
        eprintln!(
            "warning: phrase {} has {tokens} tokens; only the first {} were used",
            index + 1,
            semground::encoders::phrase::MAX_TOKENS
        );
    }
    let maps = grounder.heatmaps(features, encoded.embeddings);
    let values = maps.into_data().try_into_vec::<f32>().map_err(|error| anyhow::anyhow!("{error:?}"))?;
    let (width, height) = photo.dimensions();
    let groundings: Vec<Grounding> = args
        .phrases
        .iter()
        .zip(values.chunks(49))
        .map(|(phrase, map)| Grounding::new(phrase, map, width, height))
        .collect();

    if args.json {
        println!("{}", serde_json::to_string_pretty(&groundings)?);
    } else {
        print_text(&groundings, width, height);
    }

    if let Some(out) = &args.out {
        let overlay = semground::overlay::render(&photo, &groundings, args.opacity);
        let mut png = std::io::Cursor::new(Vec::new());
        overlay.write_to(&mut png, image::ImageFormat::Png)?;
        semground::files::write_atomic(out, png.get_ref())?;
        eprintln!("wrote {}", out.display());
    }
    Ok(())
}

fn print_text(groundings: &[Grounding], width: u32, height: u32) {
    for grounding in groundings {
        let [row, column] = grounding.cell;
        let [x, y] = grounding.point;
        println!(
            "{:?}: cell (row {row}, column {column}), point ({x:.0}, {y:.0}) in the {width} x {height} photo",
            grounding.phrase
        );
        println!("  attention per cell, percent (rows top to bottom):");
        for cells in &grounding.heatmap {
            let line: Vec<String> = cells.iter().map(|value| format!("{:5.1}", value * 100.0)).collect();
            println!("  {}", line.join(" "));
        }
    }
}
