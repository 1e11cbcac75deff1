// Browser test of the semground page (www/, built by trunk into dist/), in headless Chromium.
//
// It runs once per backend: the CPU, and WebGPU on Chromium's software adapter. Each run opens
// the page and checks that bad input gives a message and leaves the page working. Then it
// grounds phrases in a test photo and compares the page's 7 x 7 maps with
// `semground ground --json` for the same photo and phrases. On the CPU it also runs the evaluator page against `semground eval`, and
// reopens the page from the caches, then offline. Every request the browser makes is
// recorded; one that leaves the page's origin fails the test.
//
// Environment: SEMGROUND_BIN (the native binary, required), SEMGROUND_DIST (default dist/),
// CHROMIUM (default /usr/bin/chromium), SEMGROUND_BACKENDS (default "cpu webgpu").
// Run from the repository root: `node tests/web/page.test.mjs`.

import { spawnSync } from 'node:child_process';
import { createReadStream, existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize, resolve } from 'node:path';
import { chromium } from 'playwright-core';

const ROOT = resolve(new URL('../..', import.meta.url).pathname);
const DIST = resolve(process.env.SEMGROUND_DIST ?? join(ROOT, 'dist'));
const BIN = process.env.SEMGROUND_BIN;
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const BACKENDS = (process.env.SEMGROUND_BACKENDS ?? 'cpu webgpu').split(/\s+/).filter(Boolean);

const PHOTO = join(ROOT, 'tests/data/parity/photo-224.png');
const PHRASES = ['a woman in a white space suit', 'the flag'];
const ENCODER = 'efficientnet-lite0';
// Largest allowed |page map - native map|: the wasm CPU backend runs the same kernels as the
// native one with other vector widths; the GPU sums in another order.
const TOLERANCE = { cpu: 1e-5, webgpu: 1e-4 };
const LOAD_TIMEOUT_MS = 600_000;
const STEP_TIMEOUT_MS = 300_000;

function fail(message) {
  console.error(`FAIL: ${message}`);
  process.exit(1);
}

function native(args) {
  const run = spawnSync(BIN, args, { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (run.status !== 0) fail(`${BIN} ${args.join(' ')} exited ${run.status}: ${run.stderr}`);
  return run.stdout;
}

// A static server for dist/ on 127.0.0.1, on a free port.
const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css',
  '.wasm': 'application/wasm', '.json': 'application/json', '.gz': 'application/gzip',
};
function serve() {
  const server = createServer((request, response) => {
    const path = decodeURIComponent(new URL(request.url, 'http://x').pathname);
    let file = normalize(join(DIST, path));
    if (!file.startsWith(DIST)) {
      response.writeHead(403).end();
      return;
    }
    if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
    if (!existsSync(file)) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, {
      'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
      'Content-Length': statSync(file).size,
    });
    createReadStream(file).pipe(response);
  });
  return new Promise((done) => server.listen(0, '127.0.0.1', () => done(server)));
}

async function launch(backend) {
  const args = ['--no-sandbox', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run', '--disable-quic'];
  // Chromium offers its software adapter (SwiftShader) with this flag, and none with
  // --disable-gpu.
  if (backend === 'webgpu') args.push('--enable-unsafe-webgpu');
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args });
}

const state = (page) => page.evaluate(() => {
  const p = window.semgroundPage;
  return {
    ready: Boolean(p.model), backend: p.model?.backend(), reason: p.model?.backendReason(),
    encoder: p.model?.encoder(),
    badge: document.getElementById('badge').textContent, error: p.lastError, timings: p.timings,
    groundings: p.groundings, photos: p.photos.length, evalResult: p.evalResult ?? null,
  };
});

async function until(page, step, check, timeout = STEP_TIMEOUT_MS) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const now = await state(page);
    if (check(now)) return now;
    if (Date.now() > deadline) fail(`${step}: timed out; page state ${JSON.stringify({ ...now, timings: undefined })}`);
    await new Promise((done) => setTimeout(done, 100));
  }
}

async function openPage(context, origin, backend) {
  const page = await context.newPage();
  page.on('pageerror', (error) => console.log(`  page error: ${error.message}`));
  await page.goto(`${origin}/?backend=${backend === 'webgpu' ? 'auto' : 'cpu'}&encoder=${ENCODER}`);
  const ready = await until(page, 'model load', (s) => s.ready || s.badge === 'not loaded', LOAD_TIMEOUT_MS);
  if (!ready.ready) fail(`the model did not load: ${ready.error}`);
  return { page, ready };
}

function compareMaps(label, pageGroundings, nativeGroundings, tolerance) {
  let worst = { difference: 0 };
  nativeGroundings.forEach((expected, i) => {
    const actual = pageGroundings[i];
    if (!actual || actual.phrase !== expected.phrase) fail(`${label}: phrase ${i} is ${actual?.phrase}, expected ${expected.phrase}`);
    expected.heatmap.flat().forEach((value, cell) => {
      const got = actual.heatmap.flat()[cell];
      const difference = Math.abs(got - value);
      if (!(difference <= worst.difference)) worst = { difference, phrase: expected.phrase, cell, got, value };
    });
    if (actual.cell.join() !== expected.cell.join()) fail(`${label}: "${expected.phrase}" peaks at ${actual.cell}, natively at ${expected.cell}`);
  });
  const line = `${label}: max |page - native| = ${worst.difference.toExponential(2)} ("${worst.phrase}", cell ${worst.cell}: page ${worst.got}, native ${worst.value}), tolerance ${tolerance}`;
  if (!(worst.difference <= tolerance)) fail(line);
  console.log(`  ok ${line}`);
}

async function expectMessage(page, step, pattern) {
  const now = await until(page, `${step}: a message matching ${pattern}`, (s) => s.error !== null && pattern.test(s.error));
  console.log(`  ok ${step}: "${now.error.split('\n')[0]}"`);
}

async function groundAndCompare(page, label, backend, expected) {
  await page.fill('#phrases', PHRASES.join('\n'));
  const now = await until(page, `${label} heatmaps`, (s) => s.groundings.length === PHRASES.length
    && s.groundings.every((g, i) => g.phrase === PHRASES[i]));
  compareMaps(`${label} on ${backend}`, now.groundings, expected, TOLERANCE[backend]);
  return now;
}

async function evaluator(page) {
  await page.click('#tab-evaluate');
  const benchmark = join(ROOT, 'tests/data/benchmarks/phrase-boxes-small.json');
  await page.setInputFiles('#benchmark', benchmark);
  await page.setInputFiles('#benchmark-photos', join(ROOT, 'tests/data/parity'));
  await page.click('#run-eval');
  const done = await until(page, 'evaluation', (s) => s.evalResult !== null || (s.error && /benchmark|photo/.test(s.error)));
  if (!done.evalResult) fail(`evaluation failed: ${done.error}`);
  for (const row of done.evalResult.methods) {
    const args = ['eval', '--data', benchmark, '--images', join(ROOT, 'tests/data/parity'),
      '--method', row.method, '--json', '--cache', mkdtempSync(join(tmpdir(), 'semground-cache-'))];
    if (row.method === 'model' || row.method === 'visual') args.push('--encoder', ENCODER);
    const expected = JSON.parse(native(args));
    if (expected.hits !== row.hits || expected.total !== row.total) {
      fail(`evaluator ${row.method}: page ${row.hits}/${row.total}, native ${expected.hits}/${expected.total}`);
    }
    console.log(`  ok evaluator ${row.method}: ${row.hits}/${row.total} as natively`);
  }
  await page.click('#tab-ground');
}

async function main() {
  if (!BIN || !existsSync(BIN)) fail('set SEMGROUND_BIN to the native semground binary (cargo build)');
  if (!existsSync(join(DIST, 'semground_bg.wasm'))) fail(`${DIST} has no semground_bg.wasm; run \`trunk build --release\` first`);
  if (!existsSync(CHROMIUM)) fail(`no Chromium at ${CHROMIUM}; install it with \`apt-get install -y chromium\``);

  const expected = JSON.parse(native(['ground', '--image', PHOTO, '--encoder', ENCODER, '--json',
    ...PHRASES.flatMap((phrase) => ['--phrase', phrase])]));
  const server = await serve();
  const origin = `http://127.0.0.1:${server.address().port}`;
  const wasmBytes = statSync(join(DIST, 'semground_bg.wasm')).size;
  console.log(`page at ${origin}; semground_bg.wasm is ${(wasmBytes / 1e6).toFixed(1)} MB`);

  for (const backend of BACKENDS) {
    console.log(`backend ${backend}:`);
    const browser = await launch(backend);
    const context = await browser.newContext();
    const outside = [];
    context.on('request', (request) => {
      const url = request.url();
      if (!url.startsWith(`${origin}/`) && !/^(data|blob):/.test(url)) outside.push(url);
    });

    const { page, ready } = await openPage(context, origin, backend);
    console.log(`  model ready on ${ready.backend} (${ready.reason}) after ${ready.timings.modelReadyMs.toFixed(0)} ms, ${(ready.timings.weightBytes / 1e6).toFixed(1)} MB of weights fetched`);
    if (ready.backend !== backend) fail(`asked for ${backend}, the page runs on ${ready.backend}: ${ready.reason}`);

    await page.setInputFiles('#photos', join(ROOT, 'tests/data/photos/not-an-image.jpg'));
    await expectMessage(page, 'a file that is not a photo', /not-an-image\.jpg/);
    await page.setInputFiles('#photos', join(ROOT, 'tests/data/photos/huge-header.png'));
    await expectMessage(page, 'a photo too large to decode', /huge-header\.png.*too large/);

    await page.setInputFiles('#photos', PHOTO);
    const grounded = await groundAndCompare(page, 'photo-224.png', backend, expected);
    const timings = grounded.timings;
    console.log(`  first heatmap ${timings.firstHeatmapMs.toFixed(0)} ms after the page opened; photo encoded in ${timings.photoEncodeMs.at(-1).toFixed(0)} ms; ${timings.phraseMs.at(-1).toFixed(0)} ms per phrase`);

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
    const png = readFileSync(await download.path());
    if (png.length < 1000 || png.toString('latin1', 1, 4) !== 'PNG') fail(`the overlay download is not a PNG (${png.length} bytes)`);
    console.log(`  ok overlay download: ${download.suggestedFilename()}, ${png.length} bytes of PNG`);

    await page.fill('#phrases', '   ');
    await expectMessage(page, 'an empty phrase', /Type a phrase/);
    await groundAndCompare(page, 'after the empty phrase', backend, expected);

    if (backend === 'cpu') {
      await evaluator(page);

      // Switching the encoder while photos are still being added keeps every photo.
      const before = (await state(page)).photos;
      await page.setInputFiles('#photos', [PHOTO, join(ROOT, 'tests/data/photos/rgb.jpg')]);
      await page.selectOption('#encoder', 'vgg16');
      const switched = await until(page, 'encoder switch during photo adds', (s) => s.ready
        && s.encoder === 'vgg16' && s.photos === before + 2 && s.groundings.length === PHRASES.length);
      console.log(`  ok encoder switched to vgg16 while adding photos: ${switched.photos} photos kept`);

      // Second visit: the weights come from the Cache API.
      await page.close();
      const again = await openPage(context, origin, backend);
      if (!again.ready.timings.weightsFromCache) fail('the second visit downloaded the weights again');
      await again.page.setInputFiles('#photos', PHOTO);
      const cached = await groundAndCompare(again.page, 'second visit', backend, expected);
      console.log(`  second visit: weights from the cache, model ready after ${cached.timings.modelReadyMs.toFixed(0)} ms, first heatmap ${cached.timings.firstHeatmapMs.toFixed(0)} ms after the page opened`);

      // Offline: the service worker serves the app, the Cache API the weights.
      await context.setOffline(true);
      await again.page.close();
      const offline = await openPage(context, origin, backend);
      console.log(`  ok offline: the page loaded and its model started (${offline.ready.badge})`);
      await context.setOffline(false);
    }

    await browser.close();
    if (outside.length) fail(`requests left the page's origin: ${outside.join(', ')}`);
    console.log('  ok no request left the page\'s origin');
  }
  server.close();
  console.log('web test passed');
}

main().catch((error) => fail(error.stack ?? String(error)));
