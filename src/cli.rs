//! Command-line interface: argument definitions and the commands' drivers.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use burn::tensor::Device;
use clap::{Args, Parser, Subcommand};

use semground::cache::FeatureCache;
use semground::data::{PairFormat, PhraseUnit};
use semground::encoders::ImageEncoderKind;
use semground::eval::boxes::repair_boxes;
use semground::eval::formats;
use semground::eval::run::{EvalOptions, evaluate};
use semground::eval::{Method, Protocol, Target, load_phrase_boxes};
use semground::ground::Grounding;
use semground::head::LossKind;
use semground::model::Grounder;
use semground::photo::{self, PhotoLimits};
use semground::progress::Progress;
use semground::train::TrainConfig;
use semground::train::run::TrainOptions;

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
    /// Train the attention head from (photo, phrase) pairs, without boxes.
    Train(TrainArgs),
    /// Play the pointing game on a benchmark with phrase boxes or masks.
    Eval(EvalArgs),
    /// Keep only what inference needs from a trained head: its attention, in f16.
    ExportHead(ExportHeadArgs),
}

/// Compute backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Backend {
    /// burn's pure-Rust CPU backend (flex).
    Cpu,
    /// burn-wgpu: Vulkan, Metal or DX12, whichever the machine offers.
    Wgpu,
}

fn make_device(backend: Backend) -> Result<Device> {
    match backend {
        Backend::Cpu => Ok(Device::flex()),
        #[cfg(feature = "gpu")]
        Backend::Wgpu => Ok(Device::wgpu(burn::tensor::DeviceKind::DefaultDevice)),
        #[cfg(not(feature = "gpu"))]
        Backend::Wgpu => bail!(
            "this semground was built without GPU support; rebuild with `cargo build --release --features gpu`"
        ),
    }
}

/// Benchmark file formats of `semground eval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum BenchmarkFormat {
    /// `phrase-boxes/1` JSON: photos, phrases and their boxes.
    PhraseBoxes,
    /// Visual Genome `region_descriptions.json` or region graphs; photo sizes from
    /// `image_data.json` beside it, else from the photos.
    VisualGenome,
    /// COCO `instances_*.json`: each category in a photo is a phrase, its instances the boxes
    /// and masks.
    Coco,
    /// Flickr30k Entities: the folder with `Annotations/` and `Sentences/`, or a split list
    /// (`test.txt`) inside it; photos `<id>.jpg`.
    Flickr30kEntities,
    /// ReferIt / RefCLEF in the `refer` toolkit's layout: `refs(NAME).p`, with
    /// `instances.json` beside it (boxes and masks).
    Referit,
}

#[derive(Debug, Args)]
struct EvalArgs {
    /// The benchmark file (for flickr30k-entities, the data set folder or a split list).
    #[arg(long, value_name = "PATH")]
    data: PathBuf,

    /// Format of --data.
    #[arg(long, value_enum, default_value_t = BenchmarkFormat::PhraseBoxes)]
    format: BenchmarkFormat,

    /// Folder the photo names in --data are relative to [default: `images` beside --data].
    #[arg(long, value_name = "DIR")]
    images: Option<PathBuf>,

    /// Source of the points: the model or a baseline.
    #[arg(long, value_enum, default_value_t = Method::Model)]
    method: Method,

    /// The frozen image encoder (model and visual methods).
    #[arg(long, value_enum, default_value_t = ImageEncoderKind::Vgg16)]
    encoder: ImageEncoderKind,

    /// Trained head weights (.safetensors, with its .json beside it) [default:
    /// `head-<encoder>.safetensors` in the weights folder if present, else an untrained head].
    #[arg(long, value_name = "FILE")]
    head: Option<PathBuf>,

    /// Projection from a map to a point.
    #[arg(long, value_enum, default_value_t = Protocol::Paper)]
    protocol: Protocol,

    /// Hit target: a box of the phrase, or its mask (coco and referit).
    #[arg(long, value_enum, default_value_t = Target::Box)]
    target: Target,

    /// Only the refs of this split (referit): train, val, test, testA, ... [default: all].
    #[arg(long, value_name = "NAME")]
    split: Option<String>,

    /// Pixels around a box that still count as a hit.
    #[arg(
        long,
        value_name = "PX",
        default_value_t = 0.0,
        allow_negative_numbers = true
    )]
    tolerance: f64,

    /// Ignore boxes smaller than this share of the photo (0.05 = 5%).
    #[arg(
        long,
        value_name = "FRACTION",
        default_value_t = 0.0,
        allow_negative_numbers = true
    )]
    min_box_area: f64,

    /// Seed of the random baseline.
    #[arg(long, default_value_t = 0)]
    seed: u64,

    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,

    /// Write per-concept and box-area analyses (CSV tables, SVG charts, summary.json) here.
    #[arg(long, value_name = "DIR")]
    report: Option<PathBuf>,

    /// Folder with the encoder weights and tokenizer [default: ./weights, else the one this
    /// binary was built from].
    #[arg(long, value_name = "DIR", env = "SEMGROUND_WEIGHTS")]
    weights: Option<PathBuf>,

    /// Feature cache folder [default: ~/.cache/semground/features].
    #[arg(long, value_name = "DIR", env = "SEMGROUND_CACHE")]
    cache: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct TrainArgs {
    /// The annotation file with the pairs (a folder for flickr30k-entities `Sentences/`).
    #[arg(long, value_name = "FILE")]
    pairs: PathBuf,

    /// Format of --pairs.
    #[arg(long, value_enum)]
    format: PairFormat,

    /// Folder the photo names in --pairs are relative to.
    #[arg(long, value_name = "DIR")]
    images: PathBuf,

    /// Train on the phrases as they are, or on their noun-phrase chunks ("a green hat"),
    /// each with its head noun as the concept.
    #[arg(long, value_enum, default_value_t = PhraseUnit::Captions)]
    phrases: PhraseUnit,

    /// Output folder for the head, its config, the log and checkpoints.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,

    /// The frozen image encoder.
    #[arg(long, value_enum, default_value_t = ImageEncoderKind::Vgg16)]
    encoder: ImageEncoderKind,

    /// Pairs per concept batch.
    #[arg(long, default_value_t = 9, value_parser = clap::value_parser!(u32).range(1..=64))]
    k: u32,

    /// Decoder branches in the loss.
    #[arg(long, value_enum, default_value_t = LossKind::Both)]
    loss: LossKind,

    /// Size of the concept vocabulary (the most frequent nouns).
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u32).range(2..))]
    concepts: u32,

    /// Passes over the pairs; 0 only extracts and caches the frozen features.
    #[arg(long, default_value_t = 10)]
    epochs: u32,

    /// Adam learning rate.
    #[arg(long, default_value_t = 1e-3, allow_negative_numbers = true)]
    lr: f64,

    /// Concept batches per optimisation step.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..))]
    batch_size: u32,

    /// Seed of the head's initialisation and of the concept-batch sampler.
    #[arg(long, default_value_t = 0)]
    seed: u64,

    /// Continue from the last checkpoint in --out.
    #[arg(long)]
    resume: bool,

    /// Skip malformed annotation records (they are counted and listed) instead of stopping.
    #[arg(long)]
    skip_bad: bool,

    /// Folder with the encoder weights, tokenizer and tagger [default: ./weights, else the one
    /// this binary was built from].
    #[arg(long, value_name = "DIR", env = "SEMGROUND_WEIGHTS")]
    weights: Option<PathBuf>,

    /// Feature cache folder [default: ~/.cache/semground/features].
    #[arg(long, value_name = "DIR", env = "SEMGROUND_CACHE")]
    cache: Option<PathBuf>,

    /// Compute backend: cpu (burn's flex) or wgpu (needs a build with `--features gpu`).
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    device: Backend,
}

#[derive(Debug, Args)]
struct ExportHeadArgs {
    /// A head written by `semground train` (`head.safetensors`, with `head.json` beside it).
    #[arg(long, value_name = "FILE")]
    head: PathBuf,

    /// Output file of the inference head, with its `.json` written beside it. Name it
    /// `weights/head-<encoder>.safetensors` to make it the default of `ground` and `eval`.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
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

    /// Trained head weights (.safetensors, with its .json beside it) [default:
    /// `head-<encoder>.safetensors` in the weights folder if present, else an untrained head].
    #[arg(long, value_name = "FILE")]
    head: Option<PathBuf>,

    /// Write the photo with each phrase's heatmap and point, one panel per phrase; the
    /// format follows the extension (png, jpg, webp, bmp, tiff).
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
    #[arg(long, default_value_t = 0.6, value_parser = parse_opacity, allow_negative_numbers = true)]
    opacity: f32,
}

fn parse_opacity(text: &str) -> Result<f32, String> {
    let value: f32 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number"))?;
    if (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(format!("{value} is outside 0..1"))
    }
}

/// Parses the command line and runs the chosen command.
pub fn run() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Ground(args) => ground(args),
        Command::Train(args) => train(args),
        Command::Eval(args) => eval(args),
        Command::ExportHead(args) => export_head(args),
    }
}

fn export_head(args: ExportHeadArgs) -> Result<()> {
    if args.out.extension().and_then(|e| e.to_str()) != Some("safetensors") {
        bail!(
            "invalid --out {}: name the file *.safetensors, so its .json can sit beside it",
            args.out.display()
        );
    }
    let sizes = semground::train::export_inference_head(&args.head, &args.out, &Device::flex())?;
    eprintln!(
        "wrote {} ({} bytes, attention only, f16) from {} ({} bytes)",
        args.out.display(),
        sizes.exported_bytes,
        args.head.display(),
        sizes.full_bytes
    );
    Ok(())
}

/// Returns the weights folder: the flag, else `./weights`, else the repository's own.
fn weights_dir(flag: Option<PathBuf>) -> PathBuf {
    flag.unwrap_or_else(|| {
        let local = PathBuf::from("weights");
        if local.is_dir() {
            local
        } else {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("weights")
        }
    })
}

fn ground(args: GroundArgs) -> Result<()> {
    let device = Device::flex();

    // Check the cheap inputs before loading 80 MB of weights.
    let name = args.image.display().to_string();
    let bytes =
        std::fs::read(&args.image).with_context(|| format!("failed to read photo {name}"))?;
    let photo = photo::decode(&name, &bytes, PhotoLimits::default())?;
    for phrase in &args.phrases {
        if phrase.trim().is_empty() {
            bail!(
                "invalid phrase {phrase:?}: it is empty or only whitespace; pass --phrase \"a red car\""
            );
        }
    }
    let out_format = match &args.out {
        Some(out) => Some(overlay_format(out)?),
        None => None,
    };

    let grounder = Grounder::from_dir(
        &weights_dir(args.weights),
        args.encoder,
        args.head.as_deref(),
        &device,
    )?;
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
    let values = maps
        .into_data()
        .try_into_vec::<f32>()
        .map_err(|error| anyhow::anyhow!("{error:?}"))?;
    let (width, height) = photo.dimensions();
    let groundings: Vec<Grounding> = args
        .phrases
        .iter()
        .zip(values.chunks(49))
        .map(|(phrase, map)| Grounding::new(phrase, map, width, height))
        .collect();

    if args.json {
        emit(&format!("{}\n", serde_json::to_string(&groundings)?))?;
    } else {
        emit(&grounding_text(&groundings, width, height))?;
    }

    if let (Some(out), Some(format)) = (&args.out, out_format) {
        let overlay = semground::overlay::render(&photo, &groundings, args.opacity);
        let mut encoded = std::io::Cursor::new(Vec::new());
        overlay.write_to(&mut encoded, format)?;
        semground::files::write_atomic(out, encoded.get_ref())?;
        eprintln!("wrote {}", out.display());
    }
    Ok(())
}

/// Checks the overlay path before any work: its folder must exist and its extension must
/// name an image format.
fn overlay_format(out: &Path) -> Result<image::ImageFormat> {
    let parent = out
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !parent.is_dir() {
        bail!(
            "invalid --out {}: the folder {} does not exist; create it first",
            out.display(),
            parent.display()
        );
    }
    match image::ImageFormat::from_path(out) {
        Ok(
            format @ (image::ImageFormat::Png
            | image::ImageFormat::Jpeg
            | image::ImageFormat::WebP
            | image::ImageFormat::Bmp
            | image::ImageFormat::Tiff),
        ) => Ok(format),
        _ => bail!(
            "invalid --out {}: use a .png, .jpg, .webp, .bmp or .tiff file name",
            out.display()
        ),
    }
}

/// Shortens a phrase for one line of output.
fn short(phrase: &str) -> String {
    const MAX_CHARS: usize = 80;
    if phrase.chars().count() <= MAX_CHARS {
        return phrase.to_string();
    }
    let head: String = phrase.chars().take(MAX_CHARS).collect();
    format!("{head}...")
}

/// Formats a correlation to three decimals, or "n/a" where it is undefined.
fn correlation_text(value: Option<f64>) -> String {
    value.map_or_else(|| "n/a".into(), |value| format!("{value:.3}"))
}

/// Writes `text` to stdout. A closed pipe (`semground ... | head`) ends the output quietly
/// instead of failing.
fn emit(text: &str) -> Result<()> {
    use std::io::Write;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(error).context("failed to write to stdout")
        }
        _ => Ok(()),
    }
}

/// Formats each grounding as its cell, point and 7 x 7 map in percent.
fn grounding_text(groundings: &[Grounding], width: u32, height: u32) -> String {
    let mut text = String::new();
    for grounding in groundings {
        let [row, column] = grounding.cell;
        let [x, y] = grounding.point;
        text.push_str(&format!(
            "{:?}: cell (row {row}, column {column}), point ({x:.0}, {y:.0}) in the {width} x {height} photo\n",
            short(&grounding.phrase)
        ));
        text.push_str("  attention per cell, percent (rows top to bottom):\n");
        for cells in &grounding.heatmap {
            let line: Vec<String> = cells
                .iter()
                .map(|value| format!("{:5.1}", value * 100.0))
                .collect();
            text.push_str(&format!("  {}\n", line.join(" ")));
        }
    }
    text
}

/// Progress on standard error: bars on a terminal, else a plain line every 10% so that logs
/// of headless runs show how far a stage got.
struct Bars {
    bar: Option<indicatif::ProgressBar>,
    plain: Option<PlainProgress>,
}

struct PlainProgress {
    label: String,
    total: usize,
    reported: usize,
    start: std::time::Instant,
}

impl Bars {
    fn new() -> Self {
        Self {
            bar: None,
            plain: None,
        }
    }
}

impl Progress for Bars {
    fn start(&mut self, label: &str, total: usize) {
        use std::io::IsTerminal;
        if !std::io::stderr().is_terminal() {
            self.plain = Some(PlainProgress {
                label: label.to_string(),
                total,
                reported: 0,
                start: std::time::Instant::now(),
            });
            return;
        }
        let bar = indicatif::ProgressBar::new(total as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{msg:>24} [{bar:40}] {pos}/{len} {elapsed_precise} eta {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.set_message(label.to_string());
        self.bar = Some(bar);
    }

    fn set(&mut self, done: usize) {
        if let Some(bar) = &self.bar {
            bar.set_position(done as u64);
        }
        if let Some(plain) = &mut self.plain {
            let tenths = if plain.total == 0 {
                10
            } else {
                done * 10 / plain.total
            };
            // Short stages stay silent: a line only after two seconds.
            if tenths > plain.reported && plain.start.elapsed().as_secs_f64() >= 2.0 {
                plain.reported = tenths;
                eprintln!(
                    "{}: {done}/{} ({:.0} s)",
                    plain.label,
                    plain.total,
                    plain.start.elapsed().as_secs_f64()
                );
            }
        }
    }

    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish();
        }
        self.plain = None;
    }

    fn note(&mut self, message: &str) {
        match &self.bar {
            Some(bar) => bar.println(message),
            None => eprintln!("{message}"),
        }
    }
}

fn train(args: TrainArgs) -> Result<()> {
    let options = TrainOptions {
        config: TrainConfig {
            pairs: args.pairs,
            format: args.format,
            images: args.images,
            phrases: args.phrases,
            image_encoder: args.encoder,
            k: args.k as usize,
            loss: args.loss,
            concepts: args.concepts as usize,
            epochs: args.epochs as usize,
            learning_rate: args.lr,
            batch_size: args.batch_size as usize,
            seed: args.seed,
            skip_bad: args.skip_bad,
        },
        out: args.out,
        weights: weights_dir(args.weights),
        cache: args.cache.unwrap_or_else(FeatureCache::default_root),
        resume: args.resume,
        device: make_device(args.device)?,
    };
    if !(options.config.learning_rate > 0.0 && options.config.learning_rate.is_finite()) {
        bail!(
            "invalid --lr {}: the learning rate must be a positive number such as 1e-3",
            options.config.learning_rate
        );
    }
    let summary = semground::train::run::train(&options, &mut Bars::new())?;
    match summary.head {
        Some(head) => eprintln!(
            "{} pairs and {} concepts; the head is {}",
            summary.pairs,
            summary.concepts,
            head.display()
        ),
        None => eprintln!(
            "features of {} pairs are cached in {}; no epoch was run",
            summary.pairs,
            options.cache.display()
        ),
    }
    Ok(())
}

fn eval(args: EvalArgs) -> Result<()> {
    if !(args.tolerance >= 0.0 && args.tolerance.is_finite()) {
        bail!(
            "invalid --tolerance {}: give a number of pixels, 0 or more",
            args.tolerance
        );
    }
    if !(0.0..1.0).contains(&args.min_box_area) {
        bail!(
            "invalid --min-box-area {}: give a share of the photo between 0 and 1, such as 0.05",
            args.min_box_area
        );
    }
    let images = args
        .images
        .unwrap_or_else(|| args.data.parent().unwrap_or(Path::new(".")).join("images"));
    if args.split.is_some() && args.format != BenchmarkFormat::Referit {
        bail!(
            "--split applies to --format referit only; for flickr30k-entities pass the split list (test.txt) as --data"
        );
    }
    let mut bars = Bars::new();
    let repaired = |mut data| {
        let report = repair_boxes(&mut data);
        (data, report)
    };
    let (data, report, unsized_photos) = match args.format {
        BenchmarkFormat::PhraseBoxes => {
            let (data, report) = load_phrase_boxes(&args.data)?;
            (data, report, Vec::new())
        }
        BenchmarkFormat::VisualGenome => {
            let (data, unsized_photos) = formats::load_visual_genome(&args.data, &images)?;
            let (data, report) = repaired(data);
            (data, report, unsized_photos)
        }
        BenchmarkFormat::Coco => {
            let (data, report) = repaired(formats::load_coco_instances(&args.data)?);
            (data, report, Vec::new())
        }
        BenchmarkFormat::Flickr30kEntities => {
            let (data, skipped) = formats::load_flickr30k_entities(&args.data)?;
            bars.note(&format!(
                "note: left out {} notvisual mention(s) and {} mention(s) of entities without a box",
                skipped.not_visual, skipped.without_box
            ));
            let (data, report) = repaired(data);
            (data, report, Vec::new())
        }
        BenchmarkFormat::Referit => {
            let (data, report) =
                repaired(formats::load_referit(&args.data, args.split.as_deref())?);
            (data, report, Vec::new())
        }
    };
    let options = EvalOptions {
        method: args.method,
        protocol: args.protocol,
        target: args.target,
        tolerance: args.tolerance,
        min_box_area: args.min_box_area,
        seed: args.seed,
        images,
        encoder: args.encoder,
        head: args.head,
        weights: weights_dir(args.weights),
        cache: args.cache.unwrap_or_else(FeatureCache::default_root),
    };
    // Create the report folder and read the tagger before the run, so that a bad --report or
    // weights folder fails before the evaluation's minutes, not after them.
    let tagger = match &args.report {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| {
                format!(
                    "--report {}: cannot create this folder; pass a folder path that is not a file",
                    dir.display()
                )
            })?;
            let path = options.weights.join(semground::train::run::TAGGER);
            let bytes = std::fs::read(&path)
                .with_context(|| format!("failed to read the tagger {}", path.display()))?;
            Some(semground::text::Tagger::from_gzip(&bytes)?)
        }
        None => None,
    };
    if report.clipped > 0 {
        bars.note(&format!(
            "note: {} box(es) extended past their photo and were clipped to it",
            report.clipped
        ));
    }
    if !report.zero_area.is_empty() {
        bars.note(&format!(
            "note: {} box(es) have no area and can never be hit: {}",
            report.zero_area.len(),
            report.zero_area.join("; ")
        ));
    }
    if matches!(args.method, Method::Center | Method::Random) {
        let missing = data
            .images
            .iter()
            .filter(|image| !options.images.join(&image.file).exists())
            .count();
        if missing > 0 {
            bars.note(&format!(
                "note: {missing} photo(s) are not in {}; this baseline still scores their phrases from the annotated sizes, while model and visual skip them",
                options.images.display()
            ));
        }
    }
    let result = evaluate(&data, report, unsized_photos, &options, &mut bars)?;
    if result.total == 0 {
        bail!(
            "no phrase was scored: {} photo(s) missing, {} phrase(s) under --min-box-area, {} without a mask; check --images, --data and the filters",
            result.missing_images,
            result.skipped_small,
            result.skipped_without_mask
        );
    }
    if result.missing_images > 0 {
        bars.note(&format!(
            "warning: {} photo(s) missing or unreadable, their phrases are not scored: {}",
            result.missing_images,
            result.missing_image_names.join(", ")
        ));
    }
    if args.json {
        emit(&format!("{}\n", serde_json::to_string(&result)?))?;
    } else {
        let [low, high] = result.confidence_95;
        emit(&format!(
            "{} ({} protocol{}{}{}): {:.2}% ({} of {} phrases), 95% CI {low:.2}..{high:.2}; {} missing photo(s)\n",
            serde_json::to_value(result.method)?
                .as_str()
                .unwrap_or_default(),
            serde_json::to_value(result.protocol)?
                .as_str()
                .unwrap_or_default(),
            if result.target == Target::Mask {
                ", masks"
            } else {
                ""
            },
            if result.min_box_area > 0.0 {
                format!(
                    ", boxes from {} of the photo, {} phrase(s) skipped",
                    result.min_box_area, result.skipped_small
                )
            } else {
                String::new()
            },
            if result.tolerance > 0.0 {
                format!(", {} px tolerance", result.tolerance)
            } else {
                String::new()
            },
            result.accuracy,
            result.hits,
            result.total,
            result.missing_images
        ))?;
    }
    // Written after the accuracy is printed, so a failed write loses no result.
    if let (Some(dir), Some(tagger)) = (&args.report, &tagger) {
        let summary = semground::eval::report::write_report(dir, tagger, &result)?;
        bars.note(&format!(
            "report written to {}: {} concepts; correlation of box area with hits {}, of concept mean box area with accuracy over concepts with 5 or more phrases {}",
            dir.display(),
            summary.concepts,
            correlation_text(summary.area_hit_correlation),
            correlation_text(summary.concept_area_accuracy_correlation)
        ));
    }
    Ok(())
}
