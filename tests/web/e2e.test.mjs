// End to end: the built page (www/) served by scripts/serve.mjs, driven in headless Chromium,
// compared with the native CLI (target/release/ecg-digitize) on the same files.
// Run through scripts/test-web.sh, which builds both first.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchBrowser, ROOT, startServer } from './harness.mjs';

const CLI = join(ROOT, 'target/release/ecg-digitize');
const SAMPLE = join(ROOT, 'www/samples/dev002.png');
const ARTIFACTS = join(ROOT, 'target/web-artifacts');
const TIMEOUT = 120_000;

const work = mkdtempSync(join(tmpdir(), 'ecg-web-'));
/** A copy of the sample under a name with spaces and brackets, to pin the CLI's naming rule. */
const ODD_NAME = 'dev 002 (copy).png';
copyFileSync(SAMPLE, join(work, ODD_NAME));
const sampleBytes = readFileSync(SAMPLE);
/** A PNG cut short: the decoder fails part-way. */
const BROKEN = join(work, 'broken.png');
writeFileSync(BROKEN, sampleBytes.subarray(0, 4000));

/** Runs the native CLI; resolves to {files: {name: Buffer}, stderr, status}. */
function cli(inputs, ...args) {
  const out = mkdtempSync(join(work, 'out-'));
  const r = spawnSync(CLI, [...inputs, '--out-dir', out, '--jobs', '1', ...args], { encoding: 'utf8' });
  const read = (name) => (existsSync(join(out, name)) ? readFileSync(join(out, name)) : null);
  return { read, stderr: r.stderr, status: r.status };
}

let server;
let browser;
let context;
let page;
const requests = [];
const pageErrors = [];

before(async () => {
  assert.ok(existsSync(CLI), `${CLI} is missing: run cargo build --release`);
  assert.ok(existsSync(join(ROOT, 'www/pkg/ecg_digitizer_bg.wasm')), 'www/pkg is missing: run npm run build');
  mkdirSync(ARTIFACTS, { recursive: true });
  server = await startServer();
  browser = await launchBrowser();
  context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1400, height: 1000 } });
  // Every request of the session, from the page and from its worker.
  context.on('request', (r) => requests.push(r.url()));
  page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(server.url);
  await page.waitForFunction(() => window.ecgDigitizer && document.querySelector('#engine-status').dataset.kind === 'ok', null, {
    timeout: TIMEOUT,
  });
});

after(async () => {
  await browser?.close();
  server?.stop();
});

/** Waits until `count` rows of the queue are finished (done or error). */
async function waitForRows(count) {
  await page.waitForFunction(
    (n) => document.querySelectorAll('.queue-row[data-status="done"], .queue-row[data-status="error"]').length >= n &&
      !document.querySelector('.queue-row[data-status="waiting"], .queue-row[data-status="working"]'),
    count,
    { timeout: TIMEOUT },
  );
}

function row(name) {
  return page.locator('.queue-row', { has: page.locator('.row-select', { hasText: name }) }).last();
}

/** Pixels of a canvas that differ from its most common colour, and those close to a colour. */
async function canvasStats(selector, rgb) {
  return page.$eval(
    selector,
    (c, rgb) => {
      const { data } = c.getContext('2d').getImageData(0, 0, c.width, c.height);
      const counts = new Map();
      for (let i = 0; i < data.length; i += 4 * 7) {
        const k = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
        counts.set(k, (counts.get(k) ?? 0) + 1);
      }
      const [common] = [...counts].sort((a, b) => b[1] - a[1])[0];
      let other = 0;
      let near = 0;
      for (let i = 0; i < data.length; i += 4) {
        const k = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
        if (k !== common) other++;
        if (rgb && Math.abs(data[i] - rgb[0]) + Math.abs(data[i + 1] - rgb[1]) + Math.abs(data[i + 2] - rgb[2]) < 60) near++;
      }
      return { width: c.width, height: c.height, other, near };
    },
    rgb,
  );
}

/** Clicks a download link and returns the downloaded bytes and suggested name. */
async function download(locator) {
  const [d] = await Promise.all([page.waitForEvent('download'), locator.click()]);
  const path = join(work, `dl-${Date.now()}-${d.suggestedFilename()}`);
  await d.saveAs(path);
  return { name: d.suggestedFilename(), bytes: readFileSync(path) };
}

/** The entries of a zip written with stored (uncompressed) entries. */
function unzipStored(buf) {
  const files = {};
  let at = 0;
  while (buf.readUInt32LE(at) === 0x04034b50) {
    assert.equal(buf.readUInt16LE(at + 8), 0, 'stored entry');
    const size = buf.readUInt32LE(at + 18);
    const nameLen = buf.readUInt16LE(at + 26);
    const extra = buf.readUInt16LE(at + 28);
    const name = buf.subarray(at + 30, at + 30 + nameLen).toString();
    const start = at + 30 + nameLen + extra;
    files[name] = buf.subarray(start, start + size);
    at = start + size;
  }
  return files;
}

describe('paper ECG digitizer page', () => {
  it('uploads a batch: the good page gives 12 leads, the broken and the blank ones show the Rust error', async () => {
    const blank = await page.evaluate(async () => {
      const c = new OffscreenCanvas(900, 600);
      const ctx = c.getContext('2d');
      ctx.fillStyle = '#fff';
      ctx.fillRect(0, 0, 900, 600);
      return [...new Uint8Array(await (await c.convertToBlob({ type: 'image/png' })).arrayBuffer())];
    });
    const blankPath = join(work, 'blank.png');
    writeFileSync(blankPath, Buffer.from(blank));

    await page.setInputFiles('#file-input', [BROKEN]);
    await waitForRows(1);
    assert.equal(await page.locator('#download-all').isVisible(), false, 'nothing to download yet');
    await page.setInputFiles('#file-input', [join(work, ODD_NAME), blankPath]);
    await waitForRows(3);

    const expected = cli([BROKEN, blankPath]);
    assert.notEqual(expected.status, 0);
    for (const [name, path] of [['broken.png', BROKEN], ['blank.png', blankPath]]) {
      const r = row(name);
      assert.equal(await r.getAttribute('data-status'), 'error');
      const message = await r.locator('.row-status').textContent();
      assert.ok(expected.stderr.includes(`error: ${path}: ${message}\n`), `${name}: "${message}" not in CLI stderr:\n${expected.stderr}`);
    }
    const good = row(ODD_NAME);
    assert.equal(await good.getAttribute('data-status'), 'done');
    assert.match(await good.locator('.row-status').textContent(), /^Done: 12 leads/);
    assert.match(await page.textContent('#progress-text'), /^3 of 3 processed, 2 with errors\.$/);
  });

  it('shows the good page: overlay and paper drawn, facts, 12 leads with confidence', async () => {
    await row(ODD_NAME).locator('.row-select').click();
    await page.waitForFunction(() => document.querySelector('#overlay').width > 0);
    assert.equal(await page.textContent('#result-title'), ODD_NAME);
    assert.equal(await page.locator('.lead-button').count(), 12);
    assert.equal(await page.locator('.lead-button[data-quality="missing"]').count(), 0);

    const overlay = await canvasStats('#overlay', [0x00, 0x63, 0xff]);
    assert.equal(overlay.width, 2200);
    assert.ok(overlay.other > 100_000, `overlay looks blank: ${JSON.stringify(overlay)}`);
    assert.ok(overlay.near > 5_000, `no trace colour on the overlay: ${JSON.stringify(overlay)}`);
    const paper = await canvasStats('#paper', [0x11, 0x11, 0x11]);
    assert.ok(paper.other > 10_000, `paper looks blank: ${JSON.stringify(paper)}`);
    assert.ok(paper.near > 2_000, `no ink on the paper: ${JSON.stringify(paper)}`);

    const facts = await page.textContent('#facts');
    assert.match(facts, /Gain10\.0 mm\/mV, from the calibration pulse/);
    assert.match(facts, /Paper speed25\.0 mm\/s, read from the page's printed text/);
    assert.match(facts, /px\/mm/);
    assert.match(facts, /Layout3x4\+II, detected/);
    await page.screenshot({ path: join(ARTIFACTS, 'result.png'), fullPage: true });
  });

  it('downloads CSV, JSON and WFDB byte-identical to the CLI, named by its rule', async () => {
    const expected = cli([join(work, ODD_NAME)], '--format', 'csv,wfdb,json');
    assert.equal(expected.status, 0, expected.stderr);
    const csv = await download(page.locator('#downloads a[data-format="csv"]'));
    assert.equal(csv.name, 'dev 002 (copy).csv');
    assert.ok(csv.bytes.equals(expected.read('dev 002 (copy).csv')), 'CSV differs from the CLI');
    const json = await download(page.locator('#downloads a[data-format="json"]'));
    assert.equal(json.name, 'dev 002 (copy).json');
    assert.ok(json.bytes.equals(expected.read('dev 002 (copy).json')), 'JSON differs from the CLI');
    const hea = await download(page.locator('#downloads a[data-format="hea"]'));
    assert.equal(hea.name, 'dev_002__copy_.hea');
    assert.ok(hea.bytes.equals(expected.read('dev_002__copy_.hea')), '.hea differs from the CLI');
    const dat = await download(page.locator('#downloads a[data-format="dat"]'));
    assert.equal(dat.name, 'dev_002__copy_.dat');
    assert.ok(dat.bytes.equals(expected.read('dev_002__copy_.dat')), '.dat differs from the CLI');
    const zip = await download(page.locator('#downloads a[data-format="zip"]'));
    assert.equal(zip.name, 'dev_002__copy_.zip');
    const entries = unzipStored(zip.bytes);
    assert.deepEqual(Object.keys(entries), ['dev_002__copy_.hea', 'dev_002__copy_.dat']);
    assert.equal(await page.locator('#download-all').isVisible(), true);
    assert.ok(entries['dev_002__copy_.hea'].equals(expected.read('dev_002__copy_.hea')));
    assert.ok(entries['dev_002__copy_.dat'].equals(expected.read('dev_002__copy_.dat')));
  });

  it('downloads all results as one zip, one folder per file', async () => {
    const all = await download(page.locator('#download-all'));
    assert.equal(all.name, 'ecg-digitizer-results.zip');
    const entries = unzipStored(all.bytes);
    const expected = cli([join(work, ODD_NAME)], '--format', 'csv,wfdb,json');
    assert.deepEqual(Object.keys(entries), [
      'dev 002 (copy)/dev 002 (copy).csv',
      'dev 002 (copy)/dev 002 (copy).json',
      'dev 002 (copy)/dev_002__copy_.hea',
      'dev 002 (copy)/dev_002__copy_.dat',
    ]);
    for (const [path, bytes] of Object.entries(entries)) {
      assert.ok(bytes.equals(expected.read(path.split('/')[1])), `${path} differs from the CLI`);
    }
  });

  it('testing hook: digitizeToCsv gives the CLI CSV, with and without options', async () => {
    const bytes = [...sampleBytes];
    const plain = await page.evaluate((b) => window.ecgDigitizer.digitizeToCsv(new Uint8Array(b)), bytes);
    assert.equal(plain, cli([SAMPLE]).read('dev002.csv').toString());
    const opts = { speed: 25, gain: '10', layout: '3x4+II' };
    const withOptions = await page.evaluate(([b, o]) => window.ecgDigitizer.digitizeToCsv(new Uint8Array(b), o), [bytes, opts]);
    const expected = cli([SAMPLE], '--speed', '25', '--gain', '10', '--layout', '3x4+II');
    assert.equal(withOptions, expected.read('dev002.csv').toString());
  });

  it('overrides re-run the digitizer; a bad value shows the option error and can be fixed', async () => {
    await page.fill('#gain-input', '20');
    await page.press('#gain-input', 'Enter');
    await waitForRows(3);
    await page.waitForFunction(() => document.querySelector('#facts').textContent.includes('20.0 mm/mV, set by you'), null, {
      timeout: TIMEOUT,
    });
    const csv = await download(page.locator('#downloads a[data-format="csv"]'));
    assert.ok(csv.bytes.equals(cli([join(work, ODD_NAME)], '--gain', '20').read('dev 002 (copy).csv')));

    await page.selectOption('#layout-select', '3x4');
    await waitForRows(3);
    await page.waitForFunction(() => document.querySelector('#facts').textContent.includes('3x4, set by you'), null, { timeout: TIMEOUT });
    const csv3x4 = await download(page.locator('#downloads a[data-format="csv"]'));
    assert.ok(csv3x4.bytes.equals(cli([join(work, ODD_NAME)], '--gain', '20', '--layout', '3x4').read('dev 002 (copy).csv')));

    await page.fill('#gain-input', 'loud');
    await page.press('#gain-input', 'Enter');
    await waitForRows(3);
    const cliError = cli([join(work, ODD_NAME)], '--gain', 'loud').stderr.trim().replace(/^error: /, '');
    assert.equal(await row(ODD_NAME).locator('.row-status').textContent(), cliError);
    assert.equal(await page.textContent('#result-status'), `Could not digitize: ${cliError}`);

    await page.click('#reset-overrides');
    await waitForRows(3);
    assert.equal(await row(ODD_NAME).getAttribute('data-status'), 'done');
    assert.match(await page.textContent('#facts'), /from the calibration pulse/);

    // The resolution field takes the CLI's --dpi values, and its errors.
    await page.fill('#dpi-input', '5');
    await page.press('#dpi-input', 'Enter');
    await waitForRows(3);
    const dpiError = cli([join(work, ODD_NAME)], '--dpi', '5').stderr.trim().replace(/^error: /, '');
    assert.match(dpiError, /resolution/);
    assert.equal(await row(ODD_NAME).locator('.row-status').textContent(), dpiError);
    await page.fill('#dpi-input', '200');
    await page.press('#dpi-input', 'Enter');
    await waitForRows(3);
    assert.equal(await row(ODD_NAME).getAttribute('data-status'), 'done');
    const csvDpi = await download(page.locator('#downloads a[data-format="csv"]'));
    assert.ok(csvDpi.bytes.equals(cli([join(work, ODD_NAME)], '--dpi', '200').read('dev 002 (copy).csv')));
    await page.click('#reset-overrides');
    await waitForRows(3);
    assert.equal(await page.inputValue('#dpi-input'), 'auto');
  });

  it('zooms into a lead from its button and from the paper, and closes with Escape', async () => {
    await page.click('.lead-button:has-text("V2")');
    const dialog = page.locator('#zoom');
    await dialog.waitFor({ state: 'visible' });
    assert.equal(await page.textContent('#zoom-title'), 'Lead V2');
    const zoom = await canvasStats('#zoom-paper', [0x11, 0x11, 0x11]);
    assert.ok(zoom.other > 10_000 && zoom.near > 400, `zoomed lead not drawn: ${JSON.stringify(zoom)}`);
    assert.equal(await page.locator('#zoom-crops canvas').count(), 1);
    await page.screenshot({ path: join(ARTIFACTS, 'zoom.png') });
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });

    // The rhythm strip, bottom left of the paper, is lead II (shown twice on the page).
    const box = await page.locator('#paper').boundingBox();
    await page.locator('#paper').click({ position: { x: box.width * 0.3, y: box.height * 0.85 } });
    await dialog.waitFor({ state: 'visible' });
    assert.equal(await page.textContent('#zoom-title'), 'Lead II');
    assert.equal(await page.locator('#zoom-crops canvas').count(), 2);
    await page.click('#zoom button:has-text("Close")');
    await dialog.waitFor({ state: 'hidden' });
  });

  it('survives a panic inside wasm: that file shows an error, the next one works', async () => {
    await page.evaluate(() => window.ecgDigitizer.simulatePanicOnNextFile());
    const before = await page.locator('.queue-row').count();
    await page.setInputFiles('#file-input', [SAMPLE, join(work, ODD_NAME)]);
    await waitForRows(before + 2);
    const rows = page.locator('.queue-row');
    const crashed = rows.nth(before);
    assert.equal(await crashed.getAttribute('data-status'), 'error');
    assert.match(await crashed.locator('.row-status').textContent(), /^internal error while digitizing \(please report this file\): panicked at .*: deliberate panic for tests$/);
    assert.equal(await rows.nth(before + 1).getAttribute('data-status'), 'done');
    const csv = await page.evaluate((b) => window.ecgDigitizer.digitizeToCsv(new Uint8Array(b)), [...sampleBytes]);
    assert.equal(csv, cli([SAMPLE]).read('dev002.csv').toString());
  });

  it('"Try a sample" loads and digitizes the bundled page', async () => {
    const before = await page.locator('.queue-row').count();
    await page.click('#sample-button');
    await waitForRows(before + 1);
    const r = page.locator('.queue-row').nth(before);
    assert.equal(await r.locator('.row-select').textContent(), 'dev002.png');
    assert.equal(await r.getAttribute('data-status'), 'done');
  });

  it('takes images pasted from the clipboard and dropped on the page', async () => {
    const before = await page.locator('.queue-row').count();
    await page.evaluate(async () => {
      const blob = await (await fetch('samples/dev002.png')).blob();
      const pasted = new DataTransfer();
      pasted.items.add(new File([blob], 'image.png', { type: 'image/png' }));
      document.dispatchEvent(new ClipboardEvent('paste', { clipboardData: pasted, bubbles: true }));
      const dropped = new DataTransfer();
      dropped.items.add(new File([blob], 'dropped.png', { type: 'image/png' }));
      document.body.dispatchEvent(new DragEvent('drop', { dataTransfer: dropped, bubbles: true, cancelable: true }));
    });
    await waitForRows(before + 2);
    const names = await page.locator('.queue-row .row-select').allTextContents();
    assert.deepEqual(names.slice(before), ['pasted-1.png', 'dropped.png']);
    const statuses = await page.locator('.queue-row').evaluateAll((rows) => rows.map((r) => r.dataset.status));
    assert.deepEqual(statuses.slice(before), ['done', 'done']);
  });

  it('controls are reachable from the keyboard', async () => {
    // Clicking the heading moves the keyboard's starting point to the top of the page.
    await page.click('h1');
    const seen = [];
    for (let i = 0; i < 6; i++) {
      await page.keyboard.press('Tab');
      seen.push(await page.evaluate(() => document.activeElement.id || document.activeElement.className));
    }
    assert.ok(seen.includes('file-input'), seen.join(','));
    assert.ok(seen.includes('sample-button'), seen.join(','));
  });

  it('a Content-Security-Policy blocks other origins', async () => {
    const csp = await page.getAttribute('meta[http-equiv="Content-Security-Policy"]', 'content');
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /connect-src 'self'/);
    assert.match(csp, /script-src 'self' 'wasm-unsafe-eval'/);
    const violated = await page.evaluate(
      () =>
        new Promise((resolve) => {
          document.addEventListener('securitypolicyviolation', (e) => resolve(e.violatedDirective), { once: true });
          fetch('http://127.0.0.2:9/blocked').catch(() => {});
          setTimeout(() => resolve(null), 3000);
        }),
    );
    assert.equal(violated, 'connect-src');
  });

  it('works offline once loaded (service worker), even with the server gone', async () => {
    await page.evaluate(() => navigator.serviceWorker.ready);
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: TIMEOUT });
    server.stop();
    await new Promise((r) => setTimeout(r, 300));
    await page.reload();
    await page.waitForFunction(() => document.querySelector('#engine-status').dataset.kind === 'ok', null, { timeout: TIMEOUT });
    const csv = await page.evaluate((b) => window.ecgDigitizer.digitizeToCsv(new Uint8Array(b)), [...sampleBytes]);
    assert.equal(csv, cli([SAMPLE]).read('dev002.csv').toString());
  });

  it('made no request outside its own origin, and no script error', () => {
    const origin = new URL(server.url).origin;
    const foreign = requests.filter((u) => !u.startsWith(`${origin}/`) && !u.startsWith(`blob:${origin}/`) && !u.startsWith('data:'));
    assert.deepEqual(foreign, []);
    assert.ok(requests.some((u) => u.endsWith('/pkg/ecg_digitizer_bg.wasm')), 'the wasm request was not seen');
    assert.deepEqual(pageErrors, []);
    writeFileSync(join(ARTIFACTS, 'requests.txt'), `${requests.join('\n')}\n`);
  });
});
