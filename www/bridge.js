// The small typed bridge between the page and the worker that owns the wasm instance.

/**
 * @typedef {object} Settings  What the CLI takes as --speed, --gain, --layout and --dpi.
 * @property {string} [speed]   'auto' or mm/s
 * @property {string} [gain]    'auto' or mm/mV
 * @property {string} [dpi]     'auto' or dots per inch (used only on pages without a grid)
 * @property {string} [layout]  'auto', '3x4', '3x4+II', '3x4+V1,II,V5', '6x2', '6x2+II', '12x1',
 *                              '6x2-cabrera+II', '12x1-cabrera', '6x1-limb', '6x1-chest'
 * @property {string} [stem]    file stem; the WFDB record name is made from it as the CLI does
 *
 * @typedef {object} Result
 * @property {string} csv
 * @property {string} json
 * @property {string} wfdb_name  the WFDB record name (file names of .hea and .dat)
 * @property {string} wfdb_header
 * @property {Uint8Array} wfdb_data
 * @property {object} digitization  the core's Digitization (see src/page.rs)
 * @property {number} ms            time spent in the worker
 */

/** The error a job rejects with; `message` is the core's text, shown verbatim. */
export class DigitizeError extends Error {
  constructor(message, crashed) {
    super(message);
    this.name = 'DigitizeError';
    /** True when wasm panicked (the worker then starts a fresh instance). */
    this.crashed = crashed;
  }
}

export class Digitizer {
  constructor() {
    this.worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
    this.pending = new Map();
    this.nextId = 1;
    /** Resolves once the wasm module is compiled; rejects if it cannot be loaded. */
    this.ready = new Promise((resolve, reject) => {
      this.worker.addEventListener('message', ({ data }) => {
        if (data.type === 'ready') resolve();
        else if (data.type === 'fatal') reject(new Error(data.error));
        else this.settle(data);
      });
      this.worker.addEventListener('error', (e) => {
        e.preventDefault();
        reject(new Error(`the digitizer could not start: ${e.message || 'worker failed to load'}`));
      });
    });
  }

  /**
   * Digitizes an encoded image in the worker.
   * @param {ArrayBuffer} bytes  transferred to the worker: pass a copy you can lose
   * @param {Settings} settings
   * @param {{simulatePanic?: boolean}} [test]
   * @returns {Promise<Result>}
   */
  digitize(bytes, settings, test = {}) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, type: 'digitize', bytes, settings, ...test }, [bytes]);
    });
  }

  settle({ id, ok, result, ms, error, crashed }) {
    const job = this.pending.get(id);
    if (!job) return;
    this.pending.delete(id);
    if (ok) job.resolve({ ...result, ms });
    else job.reject(new DigitizeError(error, crashed));
  }
}
