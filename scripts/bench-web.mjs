// Benchmarks the page in headless Chromium and prints the numbers for BENCHMARKS.md:
//   * median time to digitize a 200 DPI page through the page's worker (testing hook), next to
//     the native CLI on the same file;
//   * time until the page is interactive (controls usable) and until the digitizer is ready;
//   * the .wasm size, raw and gzipped.
// Usage: node scripts/bench-web.mjs [--runs N] [image ...]   (default: www/samples/dev002.png)
// Needs npm run build (and cargo build --release for the native column).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { launchBrowser, ROOT, startServer } from '../tests/web/harness.mjs';

const args = process.argv.slice(2);
const runsAt = args.indexOf('--runs');
const RUNS = runsAt >= 0 ? Number(args.splice(runsAt, 2)[1]) : 7;
const images = args.length ? args : [join(ROOT, 'www/samples/dev002.png')];
const LOADS = 5;

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const ms = (x) => `${Math.round(x)} ms`;

const wasmPath = join(ROOT, 'www/pkg/ecg_digitizer_bg.wasm');
if (!existsSync(wasmPath)) {
  console.error('www/pkg is missing: run npm run build first');
  process.exit(1);
}
const wasm = readFileSync(wasmPath);
const wasmGz = gzipSync(wasm, { level: 9 }).length;

function nativeMs(image) {
  const cli = join(ROOT, 'target/release/ecg-digitize');
  if (!existsSync(cli)) return null;
  const out = mkdtempSync(join(tmpdir(), 'ecg-bench-'));
  const times = [];
  for (let i = 0; i < RUNS; i++) {
    const t = process.hrtime.bigint();
    const r = spawnSync(cli, [image, '--out-dir', out, '--jobs', '1']);
    if (r.status !== 0) throw new Error(`CLI failed on ${image}: ${r.stderr}`);
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return median(times);
}

const server = await startServer();
const browser = await launchBrowser();
try {
  // Page loads, each in a fresh profile-less context (no HTTP cache, no wasm code cache).
  const interactive = [];
  const ready = [];
  for (let i = 0; i < LOADS; i++) {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(server.url);
    await page.waitForFunction(() => window.ecgDigitizer?.readyAtMs != null, null, { timeout: 60_000 });
    const t = await page.evaluate(() => {
      const nav = performance.getEntriesByType('navigation')[0];
      return { interactive: nav.domInteractive, contentLoaded: nav.domContentLoadedEventEnd, ready: window.ecgDigitizer.readyAtMs };
    });
    interactive.push(t.contentLoaded);
    ready.push(t.ready);
    await context.close();
  }

  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(server.url);
  await page.waitForFunction(() => window.ecgDigitizer?.readyAtMs != null, null, { timeout: 60_000 });
  const rows = [];
  for (const image of images) {
    const bytes = [...readFileSync(image)];
    const times = await page.evaluate(
      async ([b, runs]) => {
        const input = new Uint8Array(b);
        const out = [];
        for (let i = 0; i < runs + 1; i++) {
          const t = performance.now();
          await window.ecgDigitizer.digitizeToCsv(input);
          out.push(performance.now() - t);
        }
        return out;
      },
      [bytes, RUNS],
    );
    const [first, ...rest] = times;
    rows.push({ image: basename(image), first, median: median(rest), native: nativeMs(image) });
  }
  await context.close();

  console.log(`Browser: ${browser.version()} (headless), ${RUNS} runs per image after one warm-up run`);
  console.log('');
  console.log('| image | wasm median | wasm first run | native CLI median | wasm / native |');
  console.log('|---|---|---|---|---|');
  for (const r of rows) {
    const ratio = r.native ? `${(r.median / r.native).toFixed(2)}×` : 'n/a';
    console.log(`| ${r.image} | ${ms(r.median)} | ${ms(r.first)} | ${r.native ? ms(r.native) : 'n/a (no target/release/ecg-digitize)'} | ${ratio} |`);
  }
  console.log('');
  console.log(`Page interactive (DOMContentLoaded, median of ${LOADS} cold loads): ${ms(median(interactive))}`);
  console.log(`Digitizer ready (wasm compiled and instantiated, median of ${LOADS} cold loads): ${ms(median(ready))}`);
  console.log(`.wasm size: ${(wasm.length / 1024).toFixed(0)} KB raw, ${(wasmGz / 1024).toFixed(0)} KB gzipped (level 9)`);
  console.log('');
  console.log('Targets: median ≤ 600 ms and ≤ 2× native; .wasm ≤ 700 KB gzipped; interactive ≤ 1 s.');
} finally {
  await browser.close();
  server.stop();
}
