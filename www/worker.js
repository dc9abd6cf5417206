// The Web Worker that owns the WebAssembly instance, so the page never freezes.
//
// Messages in:  {id, type: 'digitize', bytes: ArrayBuffer, settings, simulatePanic?}
// Messages out: {type: 'ready'} | {type: 'fatal', error}
//               {id, ok: true, result: {csv, json, wfdb_name, wfdb_header, wfdb_data, digitization}, ms}
//               {id, ok: false, error: string, crashed: boolean}
//
// A panic inside wasm leaves its memory in an unknown state, so the instance is thrown away
// and a fresh one is made from the already compiled module before the next job.

const WASM_URL = new URL('./pkg/ecg_digitizer_bg.wasm', import.meta.url);
const GLUE_URL = new URL('./pkg/ecg_digitizer.js', import.meta.url);
const CRASH_MESSAGE = 'internal error while digitizing (please report this file)';

/** @type {WebAssembly.Module} */
let compiled;
/** The wasm-bindgen glue module of the live instance. */
let glue = null;
let generation = 0;
/** The last panic message console_error_panic_hook printed, if any. */
let lastPanic = null;

const consoleError = console.error.bind(console);
console.error = (...args) => {
  lastPanic = String(args[0] ?? '');
  consoleError(...args);
};

async function instantiate() {
  // The glue keeps its instance in module state; a new URL gives a new module, so a fresh
  // instance. The first one uses the plain URL.
  const url = generation === 0 ? GLUE_URL : new URL(`?instance=${generation}`, GLUE_URL);
  generation += 1;
  const next = await import(url.href);
  await next.default({ module_or_path: compiled });
  glue = next;
}

const ready = (async () => {
  const response = await fetch(WASM_URL);
  if (!response.ok) {
    throw new Error(
      `cannot load the digitizer (${response.status} for ${WASM_URL.pathname}): was the page built with npm run build?`,
    );
  }
  compiled = await WebAssembly.compileStreaming(response);
  await instantiate();
})();

ready.then(
  () => postMessage({ type: 'ready' }),
  (e) => postMessage({ type: 'fatal', error: String(e?.message ?? e) }),
);

/** A plain Error thrown by the binding carries the core's message; anything else is a crash. */
function isRustError(e) {
  return e instanceof Error && e.constructor === Error;
}

async function digitize({ bytes, settings, simulatePanic }) {
  if (!glue) await instantiate();
  lastPanic = null;
  const started = performance.now();
  try {
    if (simulatePanic) glue.panic_for_tests();
    const result = glue.digitize(new Uint8Array(bytes), settings ?? {});
    return { ok: true, result, ms: performance.now() - started };
  } catch (e) {
    if (isRustError(e)) return { ok: false, error: e.message, crashed: false };
    glue = null;
    const detail = lastPanic ? `: ${panicSummary(lastPanic)}` : '';
    return { ok: false, error: `${CRASH_MESSAGE}${detail}`, crashed: true };
  }
}

/** "panicked at file:line:col: message", without the stack that follows. */
function panicSummary(text) {
  return text.split(/\n\s*\n/)[0].split('\n').map((l) => l.trim()).filter(Boolean).join(' ');
}

// Jobs run one at a time, in arrival order.
let queue = Promise.resolve();
addEventListener('message', (event) => {
  const job = event.data;
  queue = queue.then(async () => {
    let reply;
    try {
      await ready;
      reply = await digitize(job);
    } catch (e) {
      reply = { ok: false, error: String(e?.message ?? e), crashed: true };
    }
    const transfer = reply.ok ? [reply.result.wfdb_data.buffer] : [];
    postMessage({ id: job.id, ...reply }, transfer);
  });
});
