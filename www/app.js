// The page: file queue, result view, overrides and downloads. The digitizing itself runs in
// worker.js (through bridge.js); the canvases are drawn by draw.js.

import { Digitizer, DigitizeError } from './bridge.js';
import { DOUBTFUL_CONFIDENCE, drawLead, drawOverlay, drawPanelCrop, drawPaper } from './draw.js';

const LEADS = ['I', 'II', 'III', 'aVR', 'aVL', 'aVF', 'V1', 'V2', 'V3', 'V4', 'V5', 'V6'];
const DEFAULT_SETTINGS = Object.freeze({ layout: 'auto', speed: 'auto', gain: 'auto', dpi: 'auto' });
const SAMPLE = { url: 'samples/dev002.png', name: 'dev002.png' };

const $ = (id) => document.getElementById(id);
const digitizer = new Digitizer();

/**
 * @typedef {object} Item  One file in the queue.
 * @property {number} id
 * @property {Blob} file
 * @property {string} name       file name as given
 * @property {string} stem       output base name, as the CLI makes it
 * @property {{layout: string, speed: string, gain: string, dpi: string}} settings
 * @property {'waiting'|'working'|'done'|'error'} status
 * @property {object|null} result    the bridge's Result
 * @property {string} error
 * @property {HTMLLIElement} row
 * @property {boolean} [userChose]  the user opened it (so a later result does not replace it)
 * @property {Promise<ImageBitmap|null>} [bitmap]  the decoded image, while it is shown
 */

/** @type {Item[]} */
const items = [];
let selected = null;
let nextItemId = 1;
let pasted = 0;
let panicNextFile = false;

// ---- names: the same rules as the CLI (src/bin/ecg-digitize.rs) ----

/** Rust's Path::file_stem: the name without its last extension; dot-files keep their name. */
export function fileStem(name) {
  const dot = name.lastIndexOf('.');
  return dot > 0 ? name.slice(0, dot) : name || 'page';
}

// ---- the engine ----

digitizer.ready.then(
  () => {
    window.ecgDigitizer.readyAtMs = performance.now();
    setEngineStatus('Ready. Add ECG images to digitize them.', 'ok');
  },
  (e) => setEngineStatus(e.message, 'error'),
);

function setEngineStatus(text, kind) {
  const el = $('engine-status');
  el.textContent = text;
  el.dataset.kind = kind;
}

/** Settings in the form the CLI takes them (--speed, --gain, --layout, --dpi) plus the file stem. */
function toBridgeSettings(settings, stem) {
  return {
    speed: String(settings.speed),
    gain: String(settings.gain),
    layout: settings.layout,
    dpi: String(settings.dpi),
    stem,
  };
}

let pumping = false;
async function pump() {
  if (pumping) return;
  pumping = true;
  try {
    let item;
    while ((item = items.find((i) => i.status === 'waiting'))) await run(item);
  } finally {
    pumping = false;
  }
}

async function run(item) {
  item.status = 'working';
  item.error = '';
  updateRow(item);
  updateProgress();
  if (item === selected) renderResult();
  try {
    const bytes = await item.file.arrayBuffer();
    const test = panicNextFile ? { simulatePanic: true } : {};
    panicNextFile = false;
    item.result = await digitizer.digitize(bytes, toBridgeSettings(item.settings, item.stem), test);
    item.status = 'done';
  } catch (e) {
    item.result = null;
    item.status = 'error';
    item.error = e instanceof DigitizeError ? e.message : `could not read the file: ${e.message}`;
  }
  updateRow(item);
  updateProgress();
  // Show the first result at once; prefer a good page over a failed one nobody picked.
  const replaceFailed = selected?.status === 'error' && !selected.userChose && item.status === 'done';
  if (!selected || item === selected || replaceFailed) select(item, false);
}

// ---- input: picker, drag and drop, paste, sample ----

function addFiles(files) {
  const list = [...files];
  if (list.length === 0) return;
  $('queue').hidden = false;
  for (const file of list) {
    const name = file.name || `pasted-${++pasted}.png`;
    const item = {
      id: nextItemId++,
      file,
      name,
      stem: fileStem(name),
      settings: { ...DEFAULT_SETTINGS },
      status: 'waiting',
      result: null,
      error: '',
      row: null,
    };
    item.row = createRow(item);
    items.push(item);
    $('queue-list').append(item.row);
  }
  updateProgress();
  pump();
}

$('file-input').addEventListener('change', (e) => {
  addFiles(e.target.files);
  e.target.value = '';
});

$('sample-button').addEventListener('click', async () => {
  const button = $('sample-button');
  button.disabled = true;
  try {
    const response = await fetch(SAMPLE.url);
    if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
    const blob = await response.blob();
    addFiles([new File([blob], SAMPLE.name, { type: blob.type })]);
  } catch (e) {
    setEngineStatus(`The sample could not be loaded: ${e.message}`, 'error');
  } finally {
    button.disabled = false;
  }
});

let dragDepth = 0;
document.addEventListener('dragenter', (e) => {
  if (!e.dataTransfer?.types.includes('Files')) return;
  dragDepth++;
  document.body.classList.add('dragging');
});
document.addEventListener('dragleave', () => {
  dragDepth = Math.max(0, dragDepth - 1);
  if (dragDepth === 0) document.body.classList.remove('dragging');
});
document.addEventListener('dragover', (e) => {
  if (e.dataTransfer?.types.includes('Files')) e.preventDefault();
});
document.addEventListener('drop', (e) => {
  dragDepth = 0;
  document.body.classList.remove('dragging');
  if (!e.dataTransfer?.files.length) return;
  e.preventDefault();
  addFiles(e.dataTransfer.files);
});

document.addEventListener('paste', (e) => {
  const files = [...(e.clipboardData?.files ?? [])];
  if (files.length === 0) return;
  // Some browsers name every pasted image "image.png": number them instead.
  addFiles(
    files.map((f) =>
      f.name && f.name !== 'image.png'
        ? f
        : new File([f], `pasted-${++pasted}.${(f.type.split('/')[1] || 'png').replace('jpeg', 'jpg')}`, { type: f.type }),
    ),
  );
  e.preventDefault();
});

// ---- the queue ----

const STATUS_TEXT = {
  waiting: () => 'Waiting',
  working: () => 'Digitizing…',
  done: (i) => {
    const d = i.result.digitization;
    return `Done: ${d.leads.length} leads, layout ${d.layout}, ${(i.result.ms / 1000).toFixed(1)} s`;
  },
  error: (i) => i.error,
};

function createRow(item) {
  const li = document.createElement('li');
  li.className = 'queue-row';
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'row-select';
  button.textContent = item.name;
  button.addEventListener('click', () => select(item, true));
  const status = document.createElement('span');
  status.className = 'row-status';
  li.append(button, status);
  return li;
}

function updateRow(item) {
  item.row.dataset.status = item.status;
  const status = item.row.querySelector('.row-status');
  status.textContent = STATUS_TEXT[item.status](item);
}

function updateProgress() {
  const finished = items.filter((i) => i.status === 'done' || i.status === 'error').length;
  const failed = items.filter((i) => i.status === 'error').length;
  const busy = items.length - finished;
  const bar = $('progress');
  bar.max = items.length;
  bar.value = finished;
  let text = `${finished} of ${items.length} processed`;
  if (failed) text += `, ${failed} with errors`;
  text += busy ? '…' : '.';
  $('progress-text').textContent = text;
  $('download-all').hidden = !items.some((i) => i.status === 'done');
}

// ---- the result view ----

function select(item, byUser) {
  if (selected && selected !== item) {
    selected.bitmap?.then((b) => b?.close());
    selected.bitmap = null;
    selected.row.removeAttribute('aria-current');
  }
  selected = item;
  item.userChose ||= byUser;
  item.row.setAttribute('aria-current', 'true');
  renderResult();
  if (byUser) $('result').scrollIntoView({ behavior: 'smooth', block: 'start' });
}

/** The image as the browser decodes it, or null for formats it cannot show (TIFF). */
function bitmapOf(item) {
  item.bitmap ||= createImageBitmap(item.file).catch(() => null);
  return item.bitmap;
}

let paperTargets = [];
let downloadUrls = [];

async function renderResult() {
  const item = selected;
  if (!item) return;
  $('result').hidden = false;
  $('result-title').textContent = item.name;
  const status = $('result-status');
  status.dataset.kind = item.status;
  status.textContent =
    item.status === 'done' ? '' : item.status === 'error' ? `Could not digitize: ${item.error}` : STATUS_TEXT[item.status](item);
  fillOverrides(item.settings);
  const r = item.status === 'done' ? item.result : null;
  for (const el of document.querySelectorAll('.figures, .needs-result')) el.hidden = !r;
  $('result').classList.toggle('busy', item.status === 'working');
  renderDownloads(item);
  if (!r) {
    $('warnings-box').hidden = true;
    return;
  }
  const d = r.digitization;
  renderFacts(d, r.ms);
  renderWarnings(d.warnings);
  renderLeadButtons(d);
  paperTargets = drawPaper($('paper'), d, paperWidth());
  const bitmap = await bitmapOf(item);
  if (selected !== item || item.result !== r) return;
  drawOverlay($('overlay'), bitmap, d);
  const note = $('overlay-note');
  note.hidden = !!bitmap;
  note.textContent = bitmap ? '' : 'This browser cannot display this image (TIFF, or too large), so only what was read is drawn.';
}

/** Width of an element's content box, in CSS pixels. */
function contentWidth(el) {
  const cs = getComputedStyle(el);
  return el.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
}

function paperWidth() {
  return Math.max(320, contentWidth($('paper').parentElement));
}

const SOURCE_WORDS = {
  pulse: 'from the calibration pulse',
  separator: 'from the lead separators',
  trace: 'estimated from the trace',
  user: 'set by you',
  text: 'read from the page\'s printed text',
  assumed: 'assumed: the standard value',
};

function fmt(x, digits = 2) {
  return Number(x).toFixed(digits);
}

function rotationWords(deg) {
  if (Math.abs(deg) < 0.05) return 'none';
  return `${fmt(Math.abs(deg), 1)}° ${deg > 0 ? 'counter-clockwise' : 'clockwise'}, corrected`;
}

function renderFacts(d, ms) {
  const found = d.leads.length;
  const facts = [
    ['Gain', `${fmt(d.gain_mm_per_mv, 1)} mm/mV, ${SOURCE_WORDS[d.gain_source] ?? d.gain_source}`],
    ['Paper speed', `${fmt(d.speed_mm_per_s, 1)} mm/s, ${SOURCE_WORDS[d.speed_source] ?? d.speed_source}`],
    ['Scale', `${fmt(d.px_per_mm_x)} × ${fmt(d.px_per_mm_y)} px/mm${d.grid_found ? '' : ' (no grid seen: guessed)'}`],
    ['Rotation', rotationWords(d.rotation_deg)],
    ['Layout', `${d.layout}, ${d.layout_detected ? 'detected' : 'set by you'}`],
    ['Signal', `${fmt(d.n_samples / d.fs_hz, 1)} s at ${d.fs_hz} Hz, ${found} of 12 leads`],
    ['Image', `${d.image_size[0]} × ${d.image_size[1]} px, read in ${fmt(ms / 1000, 2)} s`],
  ];
  const dl = $('facts');
  dl.replaceChildren();
  for (const [k, v] of facts) {
    const dt = document.createElement('dt');
    dt.textContent = k;
    const dd = document.createElement('dd');
    dd.textContent = v;
    dl.append(dt, dd);
  }
}

function renderWarnings(warnings) {
  $('warnings-box').hidden = warnings.length === 0;
  $('warnings').replaceChildren(
    ...warnings.map((w) => {
      const li = document.createElement('li');
      li.textContent = w.charAt(0).toUpperCase() + w.slice(1) + '.';
      return li;
    }),
  );
}

function renderLeadButtons(d) {
  const box = $('lead-buttons');
  box.replaceChildren(
    ...LEADS.map((lead) => {
      const s = d.leads.find((l) => l.lead === lead);
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'lead-button';
      const conf = s ? Math.round(s.confidence * 100) : null;
      b.dataset.quality = !s ? 'missing' : s.confidence < DOUBTFUL_CONFIDENCE ? 'doubtful' : 'good';
      b.innerHTML = `<span class="lead-name"></span><span class="lead-conf"></span>`;
      b.querySelector('.lead-name').textContent = lead;
      b.querySelector('.lead-conf').textContent = conf === null ? 'missing' : `${conf}%`;
      b.setAttribute('aria-label', `Lead ${lead}: ${conf === null ? 'not found' : `${conf}% read from ink`}. Enlarge.`);
      b.addEventListener('click', () => openZoom(lead));
      return b;
    }),
  );
}

$('paper').addEventListener('click', (e) => {
  const rect = e.currentTarget.getBoundingClientRect();
  const fx = (e.clientX - rect.left) / rect.width;
  const fy = (e.clientY - rect.top) / rect.height;
  const t = paperTargets.find((t) => fx >= t.x && fx < t.x + t.w && fy >= t.y && fy < t.y + t.h);
  if (t) openZoom(t.lead);
});

async function openZoom(lead) {
  const item = selected;
  if (!item?.result) return;
  const d = item.result.digitization;
  const s = d.leads.find((l) => l.lead === lead);
  $('zoom-title').textContent = `Lead ${lead}`;
  $('zoom-facts').textContent = s
    ? `${Math.round(s.confidence * 100)}% read directly from the ink; ${fmt(s.samples_mv.length / d.fs_hz, 2)} s from ${fmt(
        s.start_sample / d.fs_hz,
        2,
      )} s. Re-plotted at 25 mm/s and 10 mm/mV.`
    : 'This lead was not found on the page.';
  const dialog = $('zoom');
  dialog.showModal();
  // The dialog fits its content, so its size comes from the window, not the other way round.
  const width = Math.min(1160, innerWidth * 0.94 - 44);
  drawLead($('zoom-paper'), d, lead, width);
  const crops = $('zoom-crops');
  crops.replaceChildren();
  const bitmap = await bitmapOf(item);
  for (const p of d.panels.filter((p) => p.lead === lead)) {
    const c = document.createElement('canvas');
    c.className = 'crop';
    c.setAttribute('role', 'img');
    c.setAttribute('aria-label', `Lead ${lead}, ${fmt(p.t_from_s, 1)}–${fmt(p.t_to_s, 1)} s, as printed`);
    crops.append(c);
    drawPanelCrop(c, bitmap, p, width);
  }
}

let resizeTimer = 0;
addEventListener('resize', () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => {
    if (selected?.result) paperTargets = drawPaper($('paper'), selected.result.digitization, paperWidth());
  }, 150);
});

// ---- overrides ----

function fillOverrides(s) {
  $('layout-select').value = s.layout;
  $('speed-input').value = s.speed;
  $('gain-input').value = s.gain;
  $('dpi-input').value = s.dpi;
}

function readOverrides() {
  const speed = $('speed-input').value.trim();
  return {
    layout: $('layout-select').value,
    speed: speed || DEFAULT_SETTINGS.speed,
    gain: $('gain-input').value.trim() || 'auto',
    dpi: $('dpi-input').value.trim() || 'auto',
  };
}

function rerun(settings) {
  const item = selected;
  if (!item || item.status === 'working' || item.status === 'waiting') return;
  const same = Object.keys(settings).every((k) => String(settings[k]) === String(item.settings[k]));
  if (same && item.status === 'done') return;
  item.settings = settings;
  item.status = 'waiting';
  updateRow(item);
  updateProgress();
  renderResult();
  pump();
}

$('overrides').addEventListener('change', () => rerun(readOverrides()));
$('overrides').addEventListener('submit', (e) => {
  e.preventDefault();
  rerun(readOverrides());
});
$('reset-overrides').addEventListener('click', () => {
  fillOverrides(DEFAULT_SETTINGS);
  rerun({ ...DEFAULT_SETTINGS });
});

// ---- downloads ----

function renderDownloads(item) {
  for (const u of downloadUrls) URL.revokeObjectURL(u);
  downloadUrls = [];
  const box = $('downloads');
  box.replaceChildren();
  const r = item.status === 'done' ? item.result : null;
  if (!r) {
    const p = document.createElement('p');
    p.className = 'small';
    p.textContent = 'Available once the image is digitized.';
    box.append(p);
    return;
  }
  const rec = item.result.wfdb_name;
  const link = (text, name, parts, type, hint) => {
    const url = URL.createObjectURL(new Blob(parts, { type }));
    downloadUrls.push(url);
    const a = document.createElement('a');
    a.className = 'button download';
    a.href = url;
    a.download = name;
    a.textContent = text;
    if (hint) a.title = hint;
    a.dataset.format = name.slice(name.lastIndexOf('.') + 1);
    return a;
  };
  box.append(
    link('CSV', `${item.stem}.csv`, [r.csv], 'text/csv', 'time_s and the twelve leads in mV, as the command-line tool writes it'),
    link('WFDB (.zip)', `${rec}.zip`, [zipStore(exportsOf(item).slice(2))], 'application/zip',
      'the .hea header and .dat signal file in one zip'),
    link('JSON', `${item.stem}.json`, [r.json], 'application/json', 'everything that was measured, with the overlay geometry'),
  );
  const small = document.createElement('p');
  small.className = 'small';
  small.append('WFDB as two files: ', link(`${rec}.hea`, `${rec}.hea`, [r.wfdb_header], 'text/plain'), ' ',
    link(`${rec}.dat`, `${rec}.dat`, [r.wfdb_data], 'application/octet-stream'));
  for (const a of small.querySelectorAll('a')) a.className = 'download plain';
  box.append(small);
}

/** The four exports of a digitized item, named as the CLI names them. */
function exportsOf(item, folder = '') {
  const r = item.result;
  const rec = item.result.wfdb_name;
  return [
    [`${folder}${item.stem}.csv`, r.csv],
    [`${folder}${item.stem}.json`, r.json],
    [`${folder}${rec}.hea`, r.wfdb_header],
    [`${folder}${rec}.dat`, r.wfdb_data],
  ];
}

$('download-all').addEventListener('click', () => {
  const used = new Map();
  const entries = [];
  for (const item of items.filter((i) => i.status === 'done')) {
    // One folder per file, named after it; a repeated name gets " (2)", " (3)", ...
    const n = (used.get(item.stem) ?? 0) + 1;
    used.set(item.stem, n);
    entries.push(...exportsOf(item, n === 1 ? `${item.stem}/` : `${item.stem} (${n})/`));
  }
  const a = document.createElement('a');
  a.href = URL.createObjectURL(zipStore(entries));
  a.download = 'ecg-digitizer-results.zip';
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 60_000);
});

/** A zip of uncompressed entries: small, and no library needed. */
function zipStore(entries) {
  const enc = new TextEncoder();
  const files = entries.map(([name, data]) => ({
    name: enc.encode(name),
    data: typeof data === 'string' ? enc.encode(data) : data,
  }));
  const chunks = [];
  const central = [];
  let offset = 0;
  for (const f of files) {
    const crc = crc32(f.data);
    const local = new DataView(new ArrayBuffer(30));
    local.setUint32(0, 0x04034b50, true);
    local.setUint16(4, 20, true);
    local.setUint16(6, 0x0800, true); // names are UTF-8
    local.setUint16(8, 0, true); // stored
    local.setUint16(12, 0x21, true); // 1980-01-01
    local.setUint32(14, crc, true);
    local.setUint32(18, f.data.length, true);
    local.setUint32(22, f.data.length, true);
    local.setUint16(26, f.name.length, true);
    chunks.push(local, f.name, f.data);
    const c = new DataView(new ArrayBuffer(46));
    c.setUint32(0, 0x02014b50, true);
    c.setUint16(4, 20, true);
    c.setUint16(6, 20, true);
    c.setUint16(8, 0x0800, true);
    c.setUint16(14, 0x21, true);
    c.setUint32(16, crc, true);
    c.setUint32(20, f.data.length, true);
    c.setUint32(24, f.data.length, true);
    c.setUint16(28, f.name.length, true);
    c.setUint32(42, offset, true);
    central.push(c, f.name);
    offset += 30 + f.name.length + f.data.length;
  }
  const size = central.reduce((n, c) => n + c.byteLength, 0);
  const end = new DataView(new ArrayBuffer(22));
  end.setUint32(0, 0x06054b50, true);
  end.setUint16(8, files.length, true);
  end.setUint16(10, files.length, true);
  end.setUint32(12, size, true);
  end.setUint32(16, offset, true);
  return new Blob([...chunks, ...central, end]);
}

let crcTable;
function crc32(bytes) {
  crcTable ||= Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  let crc = 0xffffffff;
  for (const b of bytes) crc = crcTable[(crc ^ b) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

// ---- offline ----

// The service worker keeps the app shell for offline use; the page works without it too.
if ('serviceWorker' in navigator && location.protocol.startsWith('http')) {
  navigator.serviceWorker.register('sw.js').catch(() => {});
}

// ---- testing hook ----

window.ecgDigitizer = {
  /**
   * Runs the page's worker path and resolves to exactly the CSV `ecg-digitize` writes.
   * @param {Uint8Array} bytes
   * @param {{speed?: string|number, gain?: string, layout?: string}} [options]
   */
  async digitizeToCsv(bytes, options = {}) {
    const r = await digitizer.digitize(bytes.slice().buffer, { ...options });
    return r.csv;
  },
  /** The whole result, for benchmarks. */
  digitize: (bytes, options = {}) => digitizer.digitize(bytes.slice().buffer, { ...options }),
  /** Makes the next queued file hit a deliberate panic inside wasm. */
  simulatePanicOnNextFile() {
    panicNextFile = true;
  },
  ready: digitizer.ready,
  /** performance.now() when the digitizer became ready (for the benchmark). */
  readyAtMs: null,
};
