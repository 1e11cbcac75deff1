// The semground page: loads the model (weights kept in the Cache API), grounds typed phrases
// in local photos, and runs the pointing game on a benchmark from disk. All computing happens
// in the wasm module; this file handles the page. Nothing is sent anywhere: every fetch goes
// to this page's own origin, for the app and its weights.

import init, { Semground } from './semground.js';

const WEIGHTS_CACHE = 'semground-weights-v1';
const COLOURS = ['#e6194b', '#3cb44b', '#4363d8', '#f58231', '#911eb4', '#008080', '#f032e6', '#9a6324'];
const BASELINE_COLOURS = { center: '#222222', visual: '#808000' };
const TYPING_DELAY_MS = 250;
const GRID = 7;
const METHOD_LABELS = {
  model: 'model (ENCODER head)',
  visual: 'visual-only (ENCODER channel mean)',
  center: 'photo centre',
  random: 'random cell (seed 0)',
};

const $ = (id) => document.getElementById(id);

// The page's state. `window.semgroundPage` exposes it to the browser test.
const page = {
  model: null,
  photos: [], // {id, name, bytes, width, height, bitmap, thumbUrl}
  current: -1,
  groundings: [], // the current photo's model groundings, in phrase order
  baselines: {},
  timings: { start: performance.now(), firstHeatmapMs: null, photoEncodeMs: [], phraseMs: [] },
  lastError: null,
};
window.semgroundPage = page;

// ---- Model access -------------------------------------------------------------------------

// Every call into the model runs through this queue, one at a time: a model being replaced
// (another encoder or backend) must not be used by a photo or phrase still in flight.
let modelQueue = Promise.resolve();
function exclusive(work) {
  const run = modelQueue.then(work, work);
  modelQueue = run.catch(() => {});
  return run;
}

// Lets the browser paint before the CPU backend blocks the page's thread.
// TODO: run the model in a Web Worker so that the page stays responsive while it computes.
function paint() {
  return new Promise((done) => requestAnimationFrame(() => setTimeout(done, 0)));
}

function setStatus(text) {
  $('load-text').textContent = text;
}

// ---- Messages -------------------------------------------------------------------------

function showMessage(text) {
  page.lastError = text;
  const box = $('message');
  box.textContent = text;
  box.hidden = false;
}

function clearMessage() {
  page.lastError = null;
  $('message').hidden = true;
}

function errorText(error) {
  return error instanceof Error ? error.message : String(error);
}

function setBadge(text, title, kind) {
  const badge = $('badge');
  badge.textContent = text;
  badge.title = title;
  badge.className = `badge ${kind}`;
}

// ---- Weights ----------------------------------------------------------------------------

function modelFileNames(encoder) {
  const image = encoder === 'vgg16' ? 'vgg16.safetensors' : 'efficientnet_lite0.safetensors';
  return {
    image,
    phrase: 'minilm_l6.safetensors',
    tokenizer: 'tokenizer.json',
    head: `head-${encoder}.safetensors`,
    headJson: `head-${encoder}.json`,
  };
}

// Fetches `weights/<name>` for each name, from the Cache API when a previous visit stored it,
// reporting progress as (bytes so far, total bytes). Resolves to {name: Uint8Array}.
async function fetchWeights(names, onProgress) {
  const cache = 'caches' in self ? await caches.open(WEIGHTS_CACHE) : null;
  const entries = await Promise.all(names.map(async (name) => {
    const url = new URL(`weights/${name}`, document.baseURI).href;
    const cached = cache ? await cache.match(url) : undefined;
    const response = cached ?? await fetch(url);
    if (!response.ok) {
      throw new Error(`could not load weights/${name} (HTTP ${response.status}); the page needs the weights/ folder built next to it by trunk`);
    }
    const size = Number(response.headers.get('Content-Length')) || 0;
    return { name, url, response, size, fromCache: Boolean(cached) };
  }));
  const total = entries.reduce((sum, entry) => sum + entry.size, 0);
  let loaded = 0;
  const files = {};
  await Promise.all(entries.map(async (entry) => {
    const reader = entry.response.body.getReader();
    const chunks = [];
    let length = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      length += value.length;
      loaded += value.length;
      onProgress(loaded, Math.max(total, loaded));
    }
    const bytes = new Uint8Array(length);
    let offset = 0;
    for (const chunk of chunks) {
      bytes.set(chunk, offset);
      offset += chunk.length;
    }
    if (cache && !entry.fromCache) {
      await cache.put(entry.url, new Response(bytes, {
        headers: { 'Content-Length': String(length), 'Content-Type': 'application/octet-stream' },
      }));
    }
    files[entry.name] = bytes;
  }));
  return { files, total: loaded, fromCache: entries.every((entry) => entry.fromCache) };
}

function megabytes(bytes) {
  return (bytes / 1e6).toFixed(1);
}

// Loads (or reloads) the model with the chosen encoder and backend, then recomputes the
// features of the photos already added. Call it inside `exclusive`.
async function loadModel(backendChoice) {
  const encoder = $('encoder').value;
  const names = modelFileNames(encoder);
  setBadge('loading…', 'fetching the weights', 'loading');
  page.model = null;
  setControlsEnabled(false);
  try {
    const started = performance.now();
    const { files, total, fromCache } = await fetchWeights(Object.values(names), (loaded, all) => {
      $('load-progress').value = all ? loaded / all : 0;
      $('load-text').textContent = `${megabytes(loaded)} of ${megabytes(all)} MB (${Math.round(100 * loaded / Math.max(all, 1))}%)`;
    });
    page.timings.weightBytes = total;
    page.timings.weightsFromCache = fromCache;
    setStatus(`${megabytes(total)} MB of weights ${fromCache ? 'from the cache' : 'downloaded'}; starting the model…`);
    await paint();
    const model = await Semground.create({
      encoder,
      image: files[names.image],
      phrase: files[names.phrase],
      tokenizer: files[names.tokenizer],
      head: files[names.head],
      headJson: files[names.headJson],
    }, backendChoice);
    page.timings.modelReadyMs = performance.now() - started;
    page.model = model;
    const backend = model.backend();
    setBadge(backend === 'webgpu' ? 'WebGPU' : 'CPU', model.backendReason(), backend);
    const where = backend === 'webgpu' ? 'on WebGPU' : `on the CPU (${model.backendReason()})`;
    const ready = `${encoder} ready ${where}; ${megabytes(total)} MB of weights${fromCache ? ' from the cache' : ''}`;
    clearMessage();
    if (!model.trained()) {
      showMessage('The head is untrained, so the heatmaps mean nothing.');
    }
    for (const [index, photo] of page.photos.entries()) {
      setStatus(`${ready}; computing the features of photo ${index + 1} of ${page.photos.length}…`);
      await paint();
      await encodeIntoModel(photo);
    }
    setStatus(ready);
  } catch (error) {
    setBadge('not loaded', errorText(error), 'failed');
    showMessage(`The model did not load: ${errorText(error)}`);
  } finally {
    setControlsEnabled(true);
  }
}

// Switches encoder or backend as chosen in the page, keeping photos and phrases.
async function switchModel() {
  await exclusive(() => loadModel($('backend').value));
  await groundPhrases();
}

// Blocks the model choice while a model loads or an evaluation runs.
function setControlsEnabled(enabled) {
  for (const id of ['encoder', 'backend', 'run-eval']) $(id).disabled = !enabled;
}

// ---- Photos -------------------------------------------------------------------------------

async function encodeIntoModel(photo) {
  const started = performance.now();
  const info = await page.model.addPhoto(photo.bytes, photo.name);
  page.timings.photoEncodeMs.push(performance.now() - started);
  photo.id = info.id;
  photo.width = info.width;
  photo.height = info.height;
}

// Adds photos from files (picker, drop or paste). A file that is not a usable photo gives a
// message and is left out; the others still load.
async function addFiles(files) {
  clearMessage();
  const problems = [];
  for (const file of files) {
    const name = file.name || 'pasted photo';
    try {
      const bytes = new Uint8Array(await file.arrayBuffer());
      const photo = { name, bytes };
      await paint();
      // Queued behind a model that is still loading, and pushed to the list in the same task,
      // so that a model switch re-encodes this photo or runs before it is encoded.
      await exclusive(async () => {
        if (!page.model) throw new Error(`${name}: the model did not load; choose another encoder or backend`);
        await guarded(() => encodeIntoModel(photo));
        page.photos.push(photo);
      });
      // A bitmap for drawing, from the browser's decoder; the model used its own decode.
      photo.bitmap = await createImageBitmap(new Blob([bytes], { type: file.type }), { imageOrientation: 'from-image' })
        .catch(() => null);
      photo.thumbUrl = URL.createObjectURL(file);
      addThumbnail(photo, page.photos.indexOf(photo));
      await showPhoto(page.photos.indexOf(photo));
    } catch (error) {
      problems.push(errorText(error));
    }
  }
  if (problems.length) showMessage(problems.join('\n'));
}

function addThumbnail(photo, index) {
  const button = document.createElement('button');
  button.type = 'button';
  button.title = photo.name;
  const img = document.createElement('img');
  img.src = photo.thumbUrl;
  img.alt = photo.name;
  button.append(img);
  button.addEventListener('click', () => showPhoto(index));
  $('thumbs').append(button);
}

async function showPhoto(index) {
  page.current = index;
  [...$('thumbs').children].forEach((child, i) => child.classList.toggle('current', i === index));
  $('drop-hint').hidden = true;
  $('download').disabled = false;
  await groundPhrases();
}

// ---- Grounding ----------------------------------------------------------------------------

function phraseList() {
  return $('phrases').value.split('\n').map((line) => line.trim()).filter((line) => line.length > 0);
}

// Runs `work` against the model. If the GPU fails (a lost device shows up as a failed
// readback), it reloads the model on the CPU, which re-adds the photos, and runs `work` once
// more. Call it inside `exclusive`.
async function guarded(work) {
  try {
    return await work();
  } catch (error) {
    const message = errorText(error);
    const gpuFailure = page.model && page.model.backend() === 'webgpu'
      && /device|readback|read a tensor|lost|gpu/i.test(message);
    if (!gpuFailure) throw error;
    $('backend').value = 'cpu';
    await loadModel('cpu');
    setBadge('CPU', `WebGPU failed (${message}), so the page moved to the CPU`, 'cpu');
    return await work();
  }
}

let groundingRequests = 0;

async function groundPhrases() {
  const photo = page.photos[page.current];
  if (!photo || !page.model) return;
  const phrases = phraseList();
  if (phrases.length === 0) {
    page.groundings = [];
    $('timing').textContent = '';
    draw();
    showMessage('Type a phrase, such as "a red car" (one per line for several).');
    return;
  }
  const request = ++groundingRequests;
  try {
    const started = performance.now();
    const groundings = await exclusive(() => guarded(() => page.model.ground(photo.id, phrases)));
    const elapsed = performance.now() - started;
    // A later keystroke or photo switch has sent a newer request, so only its result counts.
    if (request !== groundingRequests) return;
    page.timings.phraseMs.push(elapsed / phrases.length);
    if (page.timings.firstHeatmapMs === null) {
      page.timings.firstHeatmapMs = performance.now() - page.timings.start;
    }
    page.groundings = groundings;
    page.baselines = await exclusive(() => ({
      center: page.model.baseline(photo.id, 'center'),
      visual: page.model.baseline(photo.id, 'visual'),
    }));
    clearMessage();
    $('timing').textContent = `${phrases.length} phrase(s) in ${elapsed.toFixed(0)} ms on ${page.model.backend() === 'webgpu' ? 'WebGPU' : 'the CPU'}`;
    draw();
  } catch (error) {
    showMessage(errorText(error));
  }
}

let typingTimer = null;
function scheduleGrounding() {
  clearTimeout(typingTimer);
  typingTimer = setTimeout(groundPhrases, TYPING_DELAY_MS);
}

// ---- Drawing ------------------------------------------------------------------------------

function hexToRgb(hex) {
  const value = parseInt(hex.slice(1), 16);
  return [(value >> 16) & 255, (value >> 8) & 255, value & 255];
}

// A 7 x 7 image of `map` in `colour`, opaque where the map peaks; drawn scaled up with
// smoothing, which interpolates bilinearly between cells.
function heatmapImage(map, colour) {
  const flat = map.flat();
  const peak = Math.max(...flat) || 1;
  const cells = new OffscreenCanvas(GRID, GRID);
  const context = cells.getContext('2d');
  const pixels = context.createImageData(GRID, GRID);
  const [r, g, b] = hexToRgb(colour);
  flat.forEach((value, i) => {
    pixels.data.set([r, g, b, Math.round(255 * Math.max(value, 0) / peak)], 4 * i);
  });
  context.putImageData(pixels, 0, 0);
  return cells;
}

// Rings grow with `index`, so that phrases pointing at the same cell stay visible.
function drawMarker(context, point, colour, scale, index) {
  context.beginPath();
  context.arc(point[0] * scale, point[1] * scale, 7 + 4 * index, 0, 2 * Math.PI);
  context.lineWidth = 4;
  context.strokeStyle = 'white';
  context.stroke();
  context.lineWidth = 2;
  context.strokeStyle = colour;
  context.stroke();
}

function shownLayers() {
  const layers = page.groundings.map((grounding, i) => ({
    label: grounding.phrase, grounding, colour: COLOURS[i % COLOURS.length],
  }));
  for (const kind of ['center', 'visual']) {
    if ($(`show-${kind}`).checked && page.baselines[kind]) {
      layers.push({ label: `${kind} baseline`, grounding: page.baselines[kind], colour: BASELINE_COLOURS[kind] });
    }
  }
  return layers;
}

function draw() {
  const photo = page.photos[page.current];
  const canvas = $('canvas');
  const context = canvas.getContext('2d');
  if (!photo) return;
  const maxWidth = Math.min(960, canvas.parentElement.clientWidth || 960);
  // Large photos shrink to the page; small ones grow to a visible size.
  const scale = Math.min(maxWidth / photo.width, Math.max(1, 480 / Math.max(photo.width, photo.height)));
  canvas.width = Math.round(photo.width * scale);
  canvas.height = Math.round(photo.height * scale);
  if (photo.bitmap) {
    context.drawImage(photo.bitmap, 0, 0, canvas.width, canvas.height);
  } else {
    context.fillStyle = '#ccc';
    context.fillRect(0, 0, canvas.width, canvas.height);
  }
  const layers = shownLayers();
  context.imageSmoothingEnabled = true;
  context.globalAlpha = Number($('opacity').value);
  for (const layer of layers) {
    context.drawImage(heatmapImage(layer.grounding.heatmap, layer.colour), 0, 0, canvas.width, canvas.height);
  }
  context.globalAlpha = 1;
  layers.forEach((layer, i) => drawMarker(context, layer.grounding.point, layer.colour, scale, i));

  const legend = $('legend');
  legend.replaceChildren(...layers.map((layer) => {
    const item = document.createElement('li');
    const swatch = document.createElement('span');
    swatch.className = 'swatch';
    swatch.style.background = layer.colour;
    const [x, y] = layer.grounding.point;
    item.append(swatch, `${layer.label}: point (${Math.round(x)}, ${Math.round(y)}), cell row ${layer.grounding.cell[0]} column ${layer.grounding.cell[1]}`);
    return item;
  }));
}

// Saves the overlay at the photo's full size, with the phrases written under it.
async function downloadOverlay() {
  const photo = page.photos[page.current];
  if (!photo) return;
  const layers = shownLayers();
  const lineHeight = 22;
  const canvas = new OffscreenCanvas(photo.width, photo.height + lineHeight * layers.length + 8);
  const context = canvas.getContext('2d');
  context.fillStyle = 'white';
  context.fillRect(0, 0, canvas.width, canvas.height);
  if (photo.bitmap) context.drawImage(photo.bitmap, 0, 0, photo.width, photo.height);
  context.imageSmoothingEnabled = true;
  context.globalAlpha = Number($('opacity').value);
  for (const layer of layers) {
    context.drawImage(heatmapImage(layer.grounding.heatmap, layer.colour), 0, 0, photo.width, photo.height);
  }
  context.globalAlpha = 1;
  context.font = '16px sans-serif';
  layers.forEach((layer, i) => {
    drawMarker(context, layer.grounding.point, layer.colour, 1, i);
    context.fillStyle = layer.colour;
    context.fillText(layer.label, 8, photo.height + lineHeight * (i + 1));
  });
  const blob = await canvas.convertToBlob({ type: 'image/png' });
  const link = document.createElement('a');
  link.href = URL.createObjectURL(blob);
  link.download = `${photo.name.replace(/\.[^.]*$/, '')}-semground.png`;
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
}

// ---- Evaluator ----------------------------------------------------------------------------

let taggerLoaded = false;

async function runEvaluation() {
  const benchmark = $('benchmark').files[0];
  if (!page.model) {
    showMessage('The model is still loading; run the evaluation when the badge shows WebGPU or CPU.');
    return;
  }
  if (!benchmark) {
    showMessage('Choose a benchmark file first (phrase-boxes/1 or COCO instances JSON).');
    return;
  }
  if ($('benchmark-photos').files.length === 0) {
    showMessage('Choose the folder with the benchmark\'s photos first.');
    return;
  }

  // Clear the previous run's results before a new one.
  clearMessage();
  $('eval-table').hidden = true;
  $('eval-notes').textContent = '';
  $('concepts-title').hidden = true;
  $('concepts').replaceChildren();
  $('eval-progress').value = 0;
  page.evalResult = null;
  setControlsEnabled(false);
  try {
    if (!taggerLoaded) {
      const { files } = await fetchWeights(['tagger.json.gz'], () => {});
      page.model.setTagger(files['tagger.json.gz']);
      taggerLoaded = true;
    }

    // Photos by file name and by path inside the chosen folder.
    const photos = new Map();
    for (const file of $('benchmark-photos').files) {
      const relative = file.webkitRelativePath || file.name;
      photos.set(relative.split('/').slice(1).join('/') || file.name, file);
      if (!photos.has(file.name)) photos.set(file.name, file);
    }

    const text = await benchmark.text();
    const info = await exclusive(() => page.model.startEvaluation(text, benchmark.name, $('target').value));
    const started = performance.now();
    for (const [index, name] of info.files.entries()) {
      const file = photos.get(name) ?? photos.get(name.split('/').pop());
      const bytes = file ? new Uint8Array(await file.arrayBuffer()) : undefined;
      await paint();
      await exclusive(() => page.model.evalPhoto(bytes));
      $('eval-progress').value = (index + 1) / info.files.length;
      $('eval-text').textContent = `${index + 1} of ${info.files.length} photos`;
      if (index % 10 === 9) showEvalResult(page.model.evalResult(), info);
    }

    const result = page.model.evalResult();
    result.seconds = (performance.now() - started) / 1000;
    page.evalResult = result;
    showEvalResult(result, info);
    const missing = result.missing_photos.length ? ` (${result.missing_photos.length} of them missing or unreadable)` : '';
    $('eval-text').textContent = `${info.files.length} photos${missing}, ${info.phrases} phrases in ${result.seconds.toFixed(1)} s`;
  } catch (error) {
    showMessage(errorText(error));
  } finally {
    setControlsEnabled(true);
  }
}

function cell(text) {
  const td = document.createElement('td');
  td.textContent = text;
  return td;
}

function showEvalResult(result, info) {
  const table = $('eval-table');
  table.hidden = false;
  table.tBodies[0].replaceChildren(...result.methods.map((row) => {
    const tr = document.createElement('tr');
    tr.append(
      cell(METHOD_LABELS[row.method].replace('ENCODER', page.model.encoder())),
      cell(row.total ? `${row.accuracy.toFixed(2)}%` : 'n/a'),
      cell(`${row.hits} / ${row.total}`),
      cell(row.total ? `${row.confidence_95[0].toFixed(1)} to ${row.confidence_95[1].toFixed(1)}` : ''),
    );
    return tr;
  }));
  const notes = [];
  if (result.missing_photos.length) {
    notes.push(`${result.missing_photos.length} photo(s) not used by model and visual-only (center and random still score them from the annotated sizes): ${result.missing_photos.slice(0, 5).join('; ')}${result.missing_photos.length > 5 ? '; …' : ''}`);
  }
  if (info.clipped_boxes) notes.push(`${info.clipped_boxes} box(es) clipped to their photo.`);
  if (info.empty_boxes) notes.push(`${info.empty_boxes} box(es) without area, which no point can hit.`);
  if (result.skipped_without_mask) notes.push(`${result.skipped_without_mask} phrase(s) without a mask left out.`);
  $('eval-notes').textContent = notes.map((note) => note.replace(/\.?$/, '.')).join(' ');

  const concepts = result.concepts.slice(0, 25);
  $('concepts-title').hidden = concepts.length === 0;
  $('concepts').replaceChildren(...concepts.map((row) => {
    const line = document.createElement('div');
    line.className = 'concept';
    const label = document.createElement('span');
    label.textContent = `${row.concept} (${row.total})`;
    const bar = document.createElement('span');
    bar.className = 'bar';
    bar.style.width = `${row.accuracy}%`;
    const value = document.createElement('span');
    value.textContent = `${row.accuracy.toFixed(0)}%`;
    line.append(label, bar, value);
    return line;
  }));
}

// ---- Wiring -------------------------------------------------------------------------------

function selectTab(name) {
  for (const tab of ['ground', 'evaluate']) {
    $(`tab-${tab}`).setAttribute('aria-selected', String(tab === name));
    $(`${tab}-view`).hidden = tab !== name;
  }
}

function wire() {
  $('tab-ground').addEventListener('click', () => selectTab('ground'));
  $('tab-evaluate').addEventListener('click', () => selectTab('evaluate'));

  $('photos').addEventListener('change', (event) => {
    addFiles([...event.target.files]);
    event.target.value = '';
  });
  const drop = $('drop');
  drop.addEventListener('dragover', (event) => {
    event.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (event) => {
    event.preventDefault();
    drop.classList.remove('over');
    addFiles([...event.dataTransfer.files]);
  });

  document.addEventListener('paste', (event) => {
    const files = [...event.clipboardData.files];
    if (files.length) addFiles(files);
  });

  $('phrases').addEventListener('input', scheduleGrounding);
  $('opacity').addEventListener('input', draw);
  $('show-center').addEventListener('change', draw);
  $('show-visual').addEventListener('change', draw);
  $('download').addEventListener('click', downloadOverlay);

  $('encoder').addEventListener('change', switchModel);
  $('backend').addEventListener('change', switchModel);
  $('run-eval').addEventListener('click', runEvaluation);
  window.addEventListener('resize', draw);
}

async function main() {
  // Settings may come from the address: ?encoder=vgg16&backend=cpu.
  const query = new URLSearchParams(location.search);
  for (const key of ['encoder', 'backend']) {
    const value = query.get(key);
    if (value && [...$(key).options].some((option) => option.value === value)) $(key).value = value;
  }
  wire();
  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register('sw.js').catch((error) => {
      console.warn(`offline use unavailable: ${errorText(error)}`);
    });
  }
  await init();
  await exclusive(() => loadModel($('backend').value));
}

main().catch((error) => showMessage(`The page failed to start: ${errorText(error)}`));
