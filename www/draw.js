// Drawing: the input image with what the digitizer read, and leads re-plotted on ECG paper.
// Pure functions of a Digitization (src/page.rs); no DOM other than the canvases passed in.

export const PAPER_SPEED_MM_PER_S = 25;
export const PAPER_GAIN_MM_PER_MV = 10;

const COLOURS = {
  trace: '#0063ff',
  baseline: '#00a050',
  panel: '#ff8a00',
  panelDoubtful: '#d0103a',
  paper: '#fffafa',
  gridMinor: '#f7d4d4',
  gridMajor: '#ec9f9f',
  ink: '#111111',
  label: '#222222',
};

/** Below this share of directly read columns a panel is marked as doubtful. */
export const DOUBTFUL_CONFIDENCE = 0.8;

const STANDARD_ROWS = [
  ['I', 'aVR', 'V1', 'V4'],
  ['II', 'aVL', 'V2', 'V5'],
  ['III', 'aVF', 'V3', 'V6'],
];

/** Rhythm-strip leads named by a layout such as `3x4+II` or `3x4+V1,II,V5`. */
export function rhythmLeads(layout) {
  const plus = layout.indexOf('+');
  return plus < 0 ? [] : layout.slice(plus + 1).split(',').filter(Boolean);
}

/** Sizes a canvas's backing store for crisp lines and returns its 2-D context in CSS pixels. */
function prepare(canvas, cssWidth, cssHeight) {
  const dpr = globalThis.devicePixelRatio || 1;
  canvas.width = Math.round(cssWidth * dpr);
  canvas.height = Math.round(cssHeight * dpr);
  canvas.style.aspectRatio = `${cssWidth} / ${cssHeight}`;
  canvas.style.width = `${cssWidth}px`;
  const ctx = canvas.getContext('2d');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  return ctx;
}

/**
 * The input image with the extracted traces, the rows' 0 mV lines and the panel boxes over it.
 * @param {HTMLCanvasElement} canvas
 * @param {ImageBitmap|null} bitmap  null when the browser cannot show the format (e.g. TIFF)
 * @param {object} d  Digitization
 * @param {number} [maxSidePx]  larger images are drawn scaled down
 */
export function drawOverlay(canvas, bitmap, d, maxSidePx = 2400) {
  const [w, h] = d.image_size;
  const k = Math.min(1, maxSidePx / Math.max(w, h));
  canvas.width = Math.round(w * k);
  canvas.height = Math.round(h * k);
  canvas.style.aspectRatio = `${w} / ${h}`;
  const ctx = canvas.getContext('2d');
  ctx.setTransform(k, 0, 0, k, 0, 0);
  if (bitmap) {
    ctx.drawImage(bitmap, 0, 0, w, h);
  } else {
    ctx.fillStyle = '#f4f4f4';
    ctx.fillRect(0, 0, w, h);
  }
  // Line widths in image pixels, so they look alike on any resolution.
  const unit = Math.max(w, h) / 1400;
  drawPanels(ctx, d.panels, unit, true);
  ctx.setLineDash([6 * unit, 4 * unit]);
  ctx.lineWidth = 1.5 * unit;
  ctx.strokeStyle = COLOURS.baseline;
  for (const r of d.rows) {
    ctx.beginPath();
    ctx.moveTo(r.from[0], r.from[1]);
    ctx.lineTo(r.to[0], r.to[1]);
    ctx.stroke();
  }
  ctx.setLineDash([]);
  drawTraces(ctx, d.panels, 1.3 * unit);
}

function drawPanels(ctx, panels, unit, labels) {
  for (const p of panels) {
    const doubtful = p.confidence < DOUBTFUL_CONFIDENCE;
    ctx.lineWidth = (doubtful ? 2.5 : 1.5) * unit;
    ctx.strokeStyle = doubtful ? COLOURS.panelDoubtful : COLOURS.panel;
    ctx.beginPath();
    p.corners.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
    ctx.closePath();
    ctx.stroke();
    if (!labels) continue;
    const [x, y] = p.corners[0];
    const text = `${p.lead} ${Math.round(p.confidence * 100)}%`;
    ctx.font = `600 ${11 * unit}px system-ui, sans-serif`;
    const tw = ctx.measureText(text).width;
    ctx.fillStyle = doubtful ? COLOURS.panelDoubtful : COLOURS.panel;
    ctx.fillRect(x, y - 14 * unit, tw + 6 * unit, 14 * unit);
    ctx.fillStyle = '#fff';
    ctx.fillText(text, x + 3 * unit, y - 3 * unit);
  }
}

function drawTraces(ctx, panels, width) {
  ctx.lineWidth = width;
  ctx.lineJoin = 'round';
  ctx.strokeStyle = COLOURS.trace;
  ctx.globalAlpha = 0.85;
  for (const p of panels) {
    ctx.beginPath();
    let prevX = -Infinity;
    for (const [x, y] of p.trace) {
      // Columns the tracer skipped leave a gap rather than a straight bridge.
      if (x - prevX > 3) ctx.moveTo(x, y);
      else ctx.lineTo(x, y);
      prevX = x;
    }
    ctx.stroke();
  }
  ctx.globalAlpha = 1;
}

/** ECG paper: 1 mm minor and 5 mm major lines over the whole canvas. */
function drawGrid(ctx, widthMm, heightMm, pxPerMm) {
  ctx.fillStyle = COLOURS.paper;
  ctx.fillRect(0, 0, widthMm * pxPerMm, heightMm * pxPerMm);
  // Below 2.5 px per mm the minor lines would merge into a pink wash.
  for (const major of pxPerMm < 2.5 ? [true] : [false, true]) {
    ctx.beginPath();
    ctx.strokeStyle = major ? COLOURS.gridMajor : COLOURS.gridMinor;
    ctx.lineWidth = major ? 1 : 0.6;
    for (let mm = 0; mm <= widthMm; mm += 1) {
      if ((mm % 5 === 0) !== major) continue;
      const x = Math.round(mm * pxPerMm) + 0.5;
      ctx.moveTo(x, 0);
      ctx.lineTo(x, heightMm * pxPerMm);
    }
    for (let mm = 0; mm <= heightMm; mm += 1) {
      if ((mm % 5 === 0) !== major) continue;
      const y = Math.round(mm * pxPerMm) + 0.5;
      ctx.moveTo(0, y);
      ctx.lineTo(widthMm * pxPerMm, y);
    }
    ctx.stroke();
  }
}

/** One lead's samples between two times, drawn with x0/y0 (mm) at t = 0 s and 0 mV. */
function drawSignal(ctx, d, lead, fromS, toS, x0Mm, y0Mm, pxPerMm) {
  const s = d.leads.find((l) => l.lead === lead);
  if (!s) return;
  const fs = d.fs_hz;
  const first = Math.max(s.start_sample, Math.ceil(fromS * fs));
  const last = Math.min(s.start_sample + s.samples_mv.length, Math.ceil(toS * fs));
  ctx.strokeStyle = COLOURS.ink;
  ctx.lineWidth = 1.2;
  ctx.lineJoin = 'round';
  ctx.beginPath();
  let pen = false;
  for (let n = first; n < last; n++) {
    const mv = s.samples_mv[n - s.start_sample];
    if (mv === undefined || mv === null) {
      pen = false;
      continue;
    }
    const x = (x0Mm + (n / fs) * PAPER_SPEED_MM_PER_S) * pxPerMm;
    const y = (y0Mm - mv * PAPER_GAIN_MM_PER_MV) * pxPerMm;
    if (pen) ctx.lineTo(x, y);
    else ctx.moveTo(x, y);
    pen = true;
  }
  ctx.stroke();
}

/** The standard 1 mV, 0.2 s calibration pulse whose foot is at x, y (mm). */
function drawPulse(ctx, xMm, yMm, pxPerMm) {
  const p = (mm) => mm * pxPerMm;
  ctx.strokeStyle = COLOURS.ink;
  ctx.lineWidth = 1.2;
  ctx.beginPath();
  ctx.moveTo(p(xMm), p(yMm));
  ctx.lineTo(p(xMm + 1), p(yMm));
  ctx.lineTo(p(xMm + 1), p(yMm - PAPER_GAIN_MM_PER_MV));
  ctx.lineTo(p(xMm + 6), p(yMm - PAPER_GAIN_MM_PER_MV));
  ctx.lineTo(p(xMm + 6), p(yMm));
  ctx.lineTo(p(xMm + 7), p(yMm));
  ctx.stroke();
}

function label(ctx, text, xPx, yPx, size = 12) {
  ctx.font = `600 ${size}px system-ui, sans-serif`;
  ctx.fillStyle = COLOURS.label;
  ctx.fillText(text, xPx, yPx);
}

const ROW_MM = 30;
const LEFT_MM = 10;
const TOP_MM = 3;

/**
 * The twelve leads on clean paper in the standard 3x4 layout plus the page's rhythm strips,
 * at 25 mm/s and 10 mm/mV.
 * @returns {{lead: string, x: number, y: number, w: number, h: number}[]} click targets, as
 *   fractions of the canvas size
 */
export function drawPaper(canvas, d, cssWidth) {
  const durationS = d.n_samples / d.fs_hz;
  const rows = [...STANDARD_ROWS.map((leads) => ({ leads, strip: false }))];
  for (const lead of rhythmLeads(d.layout)) rows.push({ leads: [lead], strip: true });
  const widthMm = LEFT_MM + durationS * PAPER_SPEED_MM_PER_S + 5;
  const heightMm = TOP_MM + rows.length * ROW_MM + 6;
  const pxPerMm = cssWidth / widthMm;
  const ctx = prepare(canvas, cssWidth, heightMm * pxPerMm);
  drawGrid(ctx, widthMm, heightMm, pxPerMm);

  const targets = [];
  rows.forEach((row, r) => {
    const baseMm = TOP_MM + r * ROW_MM + ROW_MM * 0.6;
    drawPulse(ctx, 2, baseMm, pxPerMm);
    const spanS = durationS / row.leads.length;
    row.leads.forEach((lead, c) => {
      const fromS = c * spanS;
      drawSignal(ctx, d, lead, fromS, fromS + spanS, LEFT_MM, baseMm, pxPerMm);
      const xMm = LEFT_MM + fromS * PAPER_SPEED_MM_PER_S;
      label(ctx, lead, (xMm + 1) * pxPerMm, (baseMm - ROW_MM * 0.42) * pxPerMm);
      if (c > 0) {
        ctx.strokeStyle = COLOURS.ink;
        ctx.lineWidth = 1.2;
        ctx.beginPath();
        ctx.moveTo(xMm * pxPerMm, (baseMm - 2.5) * pxPerMm);
        ctx.lineTo(xMm * pxPerMm, (baseMm + 2.5) * pxPerMm);
        ctx.stroke();
      }
      targets.push({
        lead,
        x: xMm / widthMm,
        y: (TOP_MM + r * ROW_MM) / heightMm,
        w: (spanS * PAPER_SPEED_MM_PER_S) / widthMm,
        h: ROW_MM / heightMm,
      });
    });
  });
  label(
    ctx,
    `${PAPER_SPEED_MM_PER_S} mm/s   ${PAPER_GAIN_MM_PER_MV} mm/mV   (re-plotted)`,
    LEFT_MM * pxPerMm,
    (heightMm - 1.5) * pxPerMm,
    11,
  );
  return targets;
}

/** Largest scale of the enlarged lead: a 2.5 s panel should not fill a wall. */
const ZOOM_MAX_PX_PER_MM = 12;

/** One lead, everything the page showed of it, large, on paper with a seconds scale. */
export function drawLead(canvas, d, lead, maxCssWidth) {
  const s = d.leads.find((l) => l.lead === lead);
  const fs = d.fs_hz;
  let fromS = 0;
  let toS = d.n_samples / fs;
  let lo = -1;
  let hi = 1;
  if (s) {
    fromS = s.start_sample / fs;
    toS = (s.start_sample + s.samples_mv.length) / fs;
    for (const v of s.samples_mv) {
      if (v === undefined || v === null) continue;
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
  }
  const leftMm = 10;
  const topMm = Math.ceil(hi * PAPER_GAIN_MM_PER_MV + 5);
  const heightMm = topMm + Math.ceil(-lo * PAPER_GAIN_MM_PER_MV + 9);
  const widthMm = leftMm + (toS - fromS) * PAPER_SPEED_MM_PER_S + 5;
  const pxPerMm = Math.min(maxCssWidth / widthMm, ZOOM_MAX_PX_PER_MM);
  const ctx = prepare(canvas, widthMm * pxPerMm, heightMm * pxPerMm);
  drawGrid(ctx, widthMm, heightMm, pxPerMm);
  drawPulse(ctx, 2, topMm, pxPerMm);
  const x0 = leftMm - fromS * PAPER_SPEED_MM_PER_S;
  drawSignal(ctx, d, lead, fromS, toS, x0, topMm, pxPerMm);
  label(ctx, lead, (leftMm + 1) * pxPerMm, 14, 13);
  for (let t = Math.ceil(fromS); t <= toS + 1e-6; t++) {
    label(ctx, `${t} s`, (x0 + t * PAPER_SPEED_MM_PER_S) * pxPerMm + 2, (heightMm - 1.5) * pxPerMm, 11);
  }
  if (!s) label(ctx, 'not found on this page', (leftMm + 10) * pxPerMm, topMm * pxPerMm - 6, 13);
}

/** The part of the input image where `panel` was read, with the extracted trace over it. */
export function drawPanelCrop(canvas, bitmap, panel, maxCssWidth, maxCssHeight = 340) {
  const xs = panel.corners.map((c) => c[0]);
  const ys = panel.corners.map((c) => c[1]);
  const pad = (Math.max(...ys) - Math.min(...ys)) * 0.15;
  const x = Math.min(...xs) - pad;
  const y = Math.min(...ys) - pad;
  const w = Math.max(...xs) + pad - x;
  const h = Math.max(...ys) + pad - y;
  const k = Math.min(maxCssWidth / w, maxCssHeight / h);
  const cssWidth = w * k;
  const ctx = prepare(canvas, cssWidth, h * k);
  ctx.fillStyle = '#f4f4f4';
  ctx.fillRect(0, 0, cssWidth, h * k);
  if (bitmap) ctx.drawImage(bitmap, x, y, w, h, 0, 0, cssWidth, h * k);
  ctx.save();
  ctx.scale(k, k);
  ctx.translate(-x, -y);
  drawPanels(ctx, [panel], 1 / k, false);
  drawTraces(ctx, [panel], 1.5 / k);
  ctx.restore();
}
