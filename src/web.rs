//! Browser bindings: the one exported struct, [`Semground`], through which the page in `www/`
//! grounds phrases in local photos and plays the pointing game.
//!
//! The page fetches the weight files itself (to show progress and keep them in the Cache
//! API) and hands their bytes to [`Semground::create`]. Every method that touches the GPU
//! returns a promise, because WebGPU reads back only asynchronously. Errors reach the page
//! as `Error` objects whose message is the library's own, never as a panic.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use burn::tensor::{Device, Tensor};
use js_sys::{Promise, Reflect, Uint8Array};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use crate::encoders::ImageEncoderKind;
use crate::error::{Error, Result};
use crate::eval::formats::parse_benchmark;
use crate::eval::report::{ConceptRow, per_concept};
use crate::eval::{
    HitRule, Method, PhraseBoxes, PhraseOutcome, Protocol, Target, accuracy_percent, center_point,
    channel_mean, map_point, score_image, wilson_interval,
};
use crate::ground::{GRID, Grounding, cell_center};
use crate::model::{Grounder, ModelFiles};
use crate::photo::{self, PhotoLimits};
use crate::text::Tagger;

/// The methods the web evaluator plays, in the order of its table.
const EVAL_METHODS: [Method; 4] = [
    Method::Model,
    Method::Visual,
    Method::Center,
    Method::Random,
];

thread_local! {
    /// The WebGPU device, initialised once per page: burn's runtime cannot be initialised
    /// twice, and a new model (another encoder) reuses it.
    static WEBGPU: RefCell<Option<Device>> = const { RefCell::new(None) };
}

#[wasm_bindgen(start)]
fn start() {
    console_error_panic_hook::set_once();
}

fn js_error(error: impl std::fmt::Display) -> JsValue {
    JsError::new(&error.to_string()).into()
}

fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsValue> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(js_error)
}

/// Reads a tensor back from its device without blocking (WebGPU allows nothing else).
async fn read_values<const D: usize>(tensor: Tensor<D>) -> Result<Vec<f32>> {
    tensor
        .into_data_async()
        .await
        .map_err(|error| Error::Readback(format!("{error:?}")))?
        .try_into_vec::<f32>()
        .map_err(|error| Error::Readback(format!("{error:?}")))
}

/// Picks the device: WebGPU where the page requests it and the browser gives an adapter,
/// else the CPU backend. Returns the device, the backend's name and why it was chosen.
async fn pick_device(preference: &str) -> (Device, &'static str, String) {
    if preference == "cpu" {
        return (Device::flex(), "cpu", "CPU chosen on the page".into());
    }
    if let Some(device) = WEBGPU.with(|slot| slot.borrow().clone()) {
        return (device, "webgpu", "WebGPU adapter in use".into());
    }
    let has_gpu = web_sys::window()
        .map(|window| Reflect::has(&window.navigator(), &"gpu".into()).unwrap_or(false))
        .unwrap_or(false);
    if !has_gpu {
        return (
            Device::flex(),
            "cpu",
            "this browser has no WebGPU (navigator.gpu is missing)".into(),
        );
    }
    match Device::wgpu_options().init_async().await {
        Ok(device) => {
            WEBGPU.with(|slot| *slot.borrow_mut() = Some(device.clone()));
            (device, "webgpu", "WebGPU adapter in use".into())
        }
        Err(error) => {
            // The full error names every graphics API wgpu tried: useful in the console, too
            // long for the badge.
            web_sys::console::warn_1(&format!("WebGPU unavailable: {error}").into());
            (
                Device::flex(),
                "cpu",
                "the browser offers WebGPU but no usable adapter (no GPU, or WebGPU turned off)"
                    .into(),
            )
        }
    }
}

/// Takes the bytes of `object[key]`, which must be a `Uint8Array` (or absent if `optional`).
fn bytes_field(object: &JsValue, key: &str, optional: bool) -> Result<Option<Vec<u8>>, JsValue> {
    let value = Reflect::get(object, &key.into())?;
    if value.is_undefined() || value.is_null() {
        if optional {
            return Ok(None);
        }
        return Err(js_error(format!("model files: `{key}` is missing")));
    }
    let array: Uint8Array = value
        .dyn_into()
        .map_err(|_| js_error(format!("model files: `{key}` must be a Uint8Array")))?;
    Ok(Some(array.to_vec()))
}

/// One loaded photo: its size and its frozen features, computed once.
struct Photo {
    width: u32,
    height: u32,
    /// Region map `[1, m, 7, 7]`, kept on the device.
    features: Tensor<4>,
    /// The visual-only baseline map: the channel mean of `features`, 49 values.
    visual: Vec<f32>,
}

/// Size and id of a photo, returned by [`Semground::add_photo`].
#[derive(Serialize)]
struct PhotoInfo {
    id: u32,
    width: u32,
    height: u32,
}

/// A running pointing-game evaluation.
struct Evaluation {
    data: PhraseBoxes,
    rule: HitRule,
    /// The random baseline's generator; images are scored in order, as natively.
    rng: ChaCha8Rng,
    /// Outcomes of each method of [`EVAL_METHODS`].
    outcomes: [Vec<PhraseOutcome>; 4],
    missing: Vec<String>,
    skipped_small: usize,
    skipped_without_mask: usize,
    next_image: usize,
}

/// Summary of a benchmark, returned when an evaluation starts.
#[derive(Serialize)]
struct BenchmarkInfo {
    files: Vec<String>,
    phrases: usize,
    clipped_boxes: usize,
    empty_boxes: usize,
    has_masks: bool,
}

/// One row of the evaluator's table.
#[derive(Serialize)]
struct MethodScore {
    method: Method,
    accuracy: f64,
    confidence_95: [f64; 2],
    hits: usize,
    total: usize,
}

/// The evaluator's result.
#[derive(Serialize)]
struct EvalSummary {
    methods: Vec<MethodScore>,
    /// Per concept (head noun) accuracy of the model, most frequent first.
    concepts: Vec<ConceptRow>,
    missing_photos: Vec<String>,
    skipped_small: usize,
    skipped_without_mask: usize,
    target: Target,
    protocol: Protocol,
}

struct State {
    grounder: Grounder,
    backend: &'static str,
    backend_reason: String,
    photos: RefCell<HashMap<u32, Rc<Photo>>>,
    next_id: Cell<u32>,
    evaluation: RefCell<Option<Evaluation>>,
    tagger: RefCell<Option<Rc<Tagger>>>,
}

/// The grounding model in the page.
#[wasm_bindgen]
pub struct Semground {
    state: Rc<State>,
}

#[wasm_bindgen]
impl Semground {
    /// Loads the model from the bytes of its files and warms it up.
    ///
    /// `files` is `{encoder, image, phrase, tokenizer, head, headJson}`: the encoder name
    /// ("vgg16" or "efficientnet-lite0") and the `Uint8Array`s of its weights, MiniLM's
    /// weights, `tokenizer.json` and the head with its description (both optional: without
    /// them the head is untrained). `backend` is "auto" (WebGPU if available) or "cpu".
    pub async fn create(files: JsValue, backend: String) -> Result<Semground, JsValue> {
        let encoder: String = Reflect::get(&files, &"encoder".into())?
            .as_string()
            .unwrap_or_default();
        let kind = match encoder.as_str() {
            "vgg16" => ImageEncoderKind::Vgg16,
            "efficientnet-lite0" => ImageEncoderKind::EfficientNetLite0,
            other => {
                return Err(js_error(format!(
                    "unknown encoder {other:?}; use \"vgg16\" or \"efficientnet-lite0\""
                )));
            }
        };
        let required = |key: &str| bytes_field(&files, key, false).map(Option::unwrap_or_default);
        let head = match (
            bytes_field(&files, "head", true)?,
            bytes_field(&files, "headJson", true)?,
        ) {
            (Some(weights), Some(json)) => Some((weights, json)),
            _ => None,
        };
        let model_files = ModelFiles {
            image_encoder: kind,
            image_weights: required("image")?,
            phrase_weights: required("phrase")?,
            tokenizer: required("tokenizer")?,
            head,
        };

        let (device, backend, backend_reason) = pick_device(&backend).await;
        let grounder = Grounder::load(model_files, &device).map_err(js_error)?;
        let state = Rc::new(State {
            grounder,
            backend,
            backend_reason,
            photos: RefCell::new(HashMap::new()),
            next_id: Cell::new(1),
            evaluation: RefCell::new(None),
            tagger: RefCell::new(None),
        });

        // Warm-up: one photo and one phrase through every network compiles the GPU kernels
        // now rather than on the first photo the person drops.
        let blank = image::RgbImage::from_pixel(64, 64, image::Rgb([128, 128, 128]));
        let features = state.grounder.encode_photo(&blank);
        let phrases = state
            .grounder
            .encode_phrases(&["a photo"])
            .map_err(js_error)?;
        read_values(state.grounder.heatmaps(features, phrases.embeddings))
            .await
            .map_err(js_error)?;
        Ok(Semground { state })
    }

    /// "webgpu" or "cpu".
    pub fn backend(&self) -> String {
        self.state.backend.into()
    }

    /// Returns why this backend runs (no WebGPU, no adapter, chosen on the page).
    #[wasm_bindgen(js_name = backendReason)]
    pub fn backend_reason(&self) -> String {
        self.state.backend_reason.clone()
    }

    /// Returns the image encoder's name.
    pub fn encoder(&self) -> String {
        self.state.grounder.image_encoder.kind().name().into()
    }

    /// Returns whether the head was trained (an untrained head gives meaningless maps).
    pub fn trained(&self) -> bool {
        self.state.grounder.head_file.trained
    }

    /// Decodes a photo and computes its features once. Resolves to `{id, width, height}`.
    #[wasm_bindgen(js_name = addPhoto)]
    pub fn add_photo(&self, bytes: Vec<u8>, name: String) -> Promise {
        let state = self.state.clone();
        future_to_promise(async move {
            let photo = encode_photo(&state, &name, &bytes)
                .await
                .map_err(js_error)?;
            let id = state.next_id.get();
            state.next_id.set(id + 1);
            let info = PhotoInfo {
                id,
                width: photo.width,
                height: photo.height,
            };
            state.photos.borrow_mut().insert(id, Rc::new(photo));
            to_js(&info)
        })
    }

    /// Forgets a photo's features.
    #[wasm_bindgen(js_name = removePhoto)]
    pub fn remove_photo(&self, id: u32) {
        self.state.photos.borrow_mut().remove(&id);
    }

    /// Grounds each phrase in photo `id`. Resolves to one `{phrase, heatmap, cell, point}`
    /// per phrase: the 7 x 7 map (rows of 7, summing to 1), its highest cell `[row, column]`
    /// and that cell's centre in photo pixels `[x, y]`.
    pub fn ground(&self, id: u32, phrases: Vec<String>) -> Promise {
        let state = self.state.clone();
        future_to_promise(async move {
            let photo = state.photo(id)?;
            let maps = model_maps(&state, &photo, &phrases)
                .await
                .map_err(js_error)?;
            let groundings: Vec<Grounding> = phrases
                .iter()
                .zip(maps.chunks(GRID * GRID))
                .map(|(phrase, map)| Grounding::new(phrase, map, photo.width, photo.height))
                .collect();
            to_js(&groundings)
        })
    }

    /// Returns a baseline as a grounding of photo `id`: "visual" (the channel mean of the image
    /// features, normalised to sum to 1) or "center" (all weight on the middle cell).
    pub fn baseline(&self, id: u32, kind: String) -> Result<JsValue, JsValue> {
        let photo = self.state.photo(id)?;
        let map = match kind.as_str() {
            "visual" => {
                let total: f32 = photo.visual.iter().sum();
                photo.visual.iter().map(|value| value / total).collect()
            }
            "center" => {
                let mut map = vec![0.0; GRID * GRID];
                map[GRID * GRID / 2] = 1.0;
                map
            }
            other => {
                return Err(js_error(format!(
                    "unknown baseline {other:?}; use \"visual\" or \"center\""
                )));
            }
        };
        let mut grounding = Grounding::new(&kind, &map, photo.width, photo.height);
        if kind == "center" {
            grounding.point = center_point(photo.width, photo.height);
        }
        to_js(&grounding)
    }

    /// Gives the evaluator the part-of-speech tagger (`tagger.json.gz`) that finds each
    /// phrase's head noun for the per-concept chart.
    #[wasm_bindgen(js_name = setTagger)]
    pub fn set_tagger(&self, gzip: Vec<u8>) -> Result<(), JsValue> {
        let tagger = Tagger::from_gzip(&gzip).map_err(js_error)?;
        *self.state.tagger.borrow_mut() = Some(Rc::new(tagger));
        Ok(())
    }

    /// Starts an evaluation on a benchmark: a `phrase-boxes/1` file or COCO instances JSON
    /// (recognised by their content). `target` is "box" or "mask". Returns the photo file
    /// names in the order [`Semground::eval_photo`] expects them, and counts.
    #[wasm_bindgen(js_name = startEvaluation)]
    pub fn start_evaluation(
        &self,
        text: String,
        name: String,
        target: String,
    ) -> Result<JsValue, JsValue> {
        let target = match target.as_str() {
            "box" => Target::Box,
            "mask" => Target::Mask,
            other => {
                return Err(js_error(format!(
                    "unknown target {other:?}; use box or mask"
                )));
            }
        };
        let (data, report) = parse_benchmark(&name, &text).map_err(js_error)?;
        let has_masks = data
            .images
            .iter()
            .any(|image| image.phrases.iter().any(|p| !p.masks.is_empty()));
        if target == Target::Mask && !has_masks {
            return Err(js_error(format!(
                "{name} has no masks; score boxes, or choose a COCO instances file, which carries masks"
            )));
        }
        let info = BenchmarkInfo {
            files: data.images.iter().map(|image| image.file.clone()).collect(),
            phrases: data.images.iter().map(|image| image.phrases.len()).sum(),
            clipped_boxes: report.clipped,
            empty_boxes: report.zero_area.len(),
            has_masks,
        };
        if info.phrases == 0 {
            return Err(js_error(format!("{name} has no phrase to score")));
        }
        *self.state.evaluation.borrow_mut() = Some(Evaluation {
            data,
            rule: HitRule {
                target,
                tolerance: 0.0,
                min_box_area: 0.0,
            },
            rng: ChaCha8Rng::seed_from_u64(0),
            outcomes: Default::default(),
            missing: Vec::new(),
            skipped_small: 0,
            skipped_without_mask: 0,
            next_image: 0,
        });
        to_js(&info)
    }

    /// Scores the next photo of the running evaluation with every method. `bytes` is the
    /// photo's file, or `undefined` when the chosen folder lacks it: then only the center
    /// and random baselines, which need no pixels, score its phrases, as natively.
    #[wasm_bindgen(js_name = evalPhoto)]
    pub fn eval_photo(&self, bytes: Option<Vec<u8>>) -> Promise {
        let state = self.state.clone();
        future_to_promise(async move {
            let (image, index) = {
                let evaluation = state.evaluation.borrow();
                let evaluation = evaluation
                    .as_ref()
                    .ok_or_else(|| js_error("no evaluation is running; start one first"))?;
                let index = evaluation.next_image;
                let image =
                    evaluation.data.images.get(index).cloned().ok_or_else(|| {
                        js_error("every photo of the benchmark is already scored")
                    })?;
                (image, index)
            };

            // Model and visual-only maps, if the photo is there and decodes.
            let mut maps = None;
            let mut problem = None;
            if let Some(bytes) = bytes {
                match encode_photo(&state, &image.file, &bytes).await {
                    Ok(photo) => {
                        let texts: Vec<&str> =
                            image.phrases.iter().map(|p| p.phrase.as_str()).collect();
                        let model = if texts.is_empty() {
                            Vec::new()
                        } else {
                            model_maps(&state, &photo, &texts).await.map_err(js_error)?
                        };
                        maps = Some((model, photo.visual.clone()));
                    }
                    Err(error) => problem = Some(error.to_string()),
                }
            } else {
                problem = Some(format!("{} is not in the chosen folder", image.file));
            }

            let mut evaluation = state.evaluation.borrow_mut();
            let evaluation = evaluation
                .as_mut()
                .ok_or_else(|| js_error("the evaluation was stopped"))?;
            let (width, height) = (image.width, image.height);
            for (slot, method) in EVAL_METHODS.iter().enumerate() {
                let score = match (method, &maps) {
                    (Method::Model, Some((model, _))) => {
                        score_image(&image, evaluation.rule, |i| {
                            map_point(&model[i * 49..(i + 1) * 49], width, height, Protocol::Paper)
                        })
                    }
                    (Method::Visual, Some((_, visual))) => {
                        score_image(&image, evaluation.rule, |_| {
                            map_point(visual, width, height, Protocol::Paper)
                        })
                    }
                    (Method::Model | Method::Visual, None) => continue,
                    (Method::Center, _) => {
                        score_image(&image, evaluation.rule, |_| center_point(width, height))
                    }
                    (Method::Random, _) => {
                        let rng = &mut evaluation.rng;
                        score_image(&image, evaluation.rule, |_| {
                            let cell = rng.random_range(0..GRID * GRID);
                            cell_center([cell / GRID, cell % GRID], width, height)
                        })
                    }
                };
                if *method == Method::Center {
                    evaluation.skipped_small += score.skipped_small;
                    evaluation.skipped_without_mask += score.skipped_without_mask;
                }
                evaluation.outcomes[slot].extend(score.outcomes);
            }
            if let Some(problem) = &problem {
                evaluation.missing.push(problem.clone());
            }
            evaluation.next_image = index + 1;
            Ok(problem.map(JsValue::from).unwrap_or(JsValue::NULL))
        })
    }

    /// The accuracy of each method so far, and the model's accuracy per concept (when the
    /// tagger is set).
    #[wasm_bindgen(js_name = evalResult)]
    pub fn eval_result(&self) -> Result<JsValue, JsValue> {
        let evaluation = self.state.evaluation.borrow();
        let evaluation = evaluation
            .as_ref()
            .ok_or_else(|| js_error("no evaluation is running; start one first"))?;
        let methods = EVAL_METHODS
            .iter()
            .zip(&evaluation.outcomes)
            .map(|(&method, outcomes)| {
                let hits = outcomes.iter().filter(|o| o.hit).count();
                let total = outcomes.len();
                MethodScore {
                    method,
                    accuracy: accuracy_percent(hits, total),
                    confidence_95: wilson_interval(hits, total),
                    hits,
                    total,
                }
            })
            .collect();
        let concepts = match self.state.tagger.borrow().as_ref() {
            Some(tagger) => per_concept(tagger, &evaluation.outcomes[0]),
            None => Vec::new(),
        };
        to_js(&EvalSummary {
            methods,
            concepts,
            missing_photos: evaluation.missing.clone(),
            skipped_small: evaluation.skipped_small,
            skipped_without_mask: evaluation.skipped_without_mask,
            target: evaluation.rule.target,
            protocol: Protocol::Paper,
        })
    }
}

impl State {
    fn photo(&self, id: u32) -> Result<Rc<Photo>, JsValue> {
        self.photos
            .borrow()
            .get(&id)
            .cloned()
            .ok_or_else(|| js_error(format!("no photo with id {id}; add it first")))
    }
}

/// Bounds on photos in the page: a tab has far less memory than a native process.
fn web_limits() -> PhotoLimits {
    PhotoLimits {
        max_side: 12_000,
        max_megapixels: 50.0,
        max_alloc_bytes: 256 << 20,
    }
}

/// Decodes a photo and computes its region map and visual-only map.
async fn encode_photo(state: &State, name: &str, bytes: &[u8]) -> Result<Photo> {
    let decoded = photo::decode(name, bytes, web_limits())?;
    let (width, height) = decoded.dimensions();
    let features = state.grounder.encode_photo(&decoded);
    let visual = channel_mean(&read_values(features.clone()).await?);
    Ok(Photo {
        width,
        height,
        features,
        visual,
    })
}

/// Computes the model's maps of `phrases` over `photo`, 49 values per phrase. The phrase
/// encoder rejects empty phrases.
async fn model_maps<S: AsRef<str>>(
    state: &State,
    photo: &Photo,
    phrases: &[S],
) -> Result<Vec<f32>> {
    let encoded = state.grounder.encode_phrases(phrases)?;
    read_values(
        state
            .grounder
            .heatmaps(photo.features.clone(), encoded.embeddings),
    )
    .await
}
