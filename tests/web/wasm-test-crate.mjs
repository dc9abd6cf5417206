// Prints the manifest path for the wasm binding tests (tests/wasm_binding.rs).
//
// They need three things the crate does not have yet (see the web report):
//   * `pub mod wasm` in src/lib.rs, so that a test can call the binding;
//   * proptest as a non-wasm dev-dependency: its `fork` feature pulls in wait-timeout,
//     which does not build for wasm32;
//   * a CLI that compiles for wasm32 (cargo builds the binaries for integration tests), e.g.
//     an empty `main` there.
// Until all land, this writes a shadow crate under target/wasm-test-crate whose manifest and
// lib.rs carry those changes (the CLI is left out) and whose other files link to the real
// ones, and prints its manifest. Once they land it prints Cargo.toml and no shadow is made.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync, lstatSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT } from './harness.mjs';

const NOT_WASM_DEV_DEPS = `[target.'cfg(not(target_arch = "wasm32"))'.dev-dependencies]`;
const manifest = readFileSync(join(ROOT, 'Cargo.toml'), 'utf8');
const lib = readFileSync(join(ROOT, 'src/lib.rs'), 'utf8');

/** The `proptest = ...` line if it sits in the plain [dev-dependencies] table. */
function plainProptest(text) {
  const table = text.match(/^\[dev-dependencies\]\n([\s\S]*?)(?=^\[|(?![\s\S]))/m);
  return table?.[1].match(/^proptest\s*=.*$/m)?.[0] ?? null;
}

const proptest = plainProptest(manifest);
const privateWasm = /^mod wasm;$/m.test(lib);
const cliSource = join(ROOT, 'src/bin/ecg-digitize.rs');
const cliBuildsForWasm = !existsSync(cliSource) || readFileSync(cliSource, 'utf8').includes('target_arch = "wasm32"');
if (!proptest && !privateWasm && cliBuildsForWasm) {
  console.log(join(ROOT, 'Cargo.toml'));
  process.exit(0);
}

let patchedManifest = manifest;
if (proptest) {
  patchedManifest = patchedManifest.replace(`${proptest}\n`, '');
  patchedManifest = patchedManifest.includes(NOT_WASM_DEV_DEPS)
    ? patchedManifest.replace(`${NOT_WASM_DEV_DEPS}\n`, `${NOT_WASM_DEV_DEPS}\n${proptest}\n`)
    : `${patchedManifest}\n${NOT_WASM_DEV_DEPS}\n${proptest}\n`;
}
// The shadow tests the library only: no binaries.
patchedManifest = patchedManifest
  .replace(/^\[\[bin\]\]\n(?:(?!\[)[^\n]*\n)*/gm, '')
  .replace(/^default-run\s*=.*\n/m, '')
  .replace(/^\[package\]\n/m, '[package]\nautobins = false\n');
const patchedLib = lib.replace(/^mod wasm;$/m, '#[doc(hidden)]\npub mod wasm;');

const shadow = join(ROOT, 'target/wasm-test-crate');
mkdirSync(join(shadow, 'src'), { recursive: true });

/** Writes only on change, so that cargo's mtime checks do not rebuild every time. */
function write(path, text) {
  if (existsSync(path) && readFileSync(path, 'utf8') === text) return;
  writeFileSync(path, text);
}

function link(target, path) {
  try {
    lstatSync(path);
    rmSync(path, { recursive: true, force: true });
  } catch {}
  symlinkSync(relative(join(path, '..'), target), path);
}

write(join(shadow, 'Cargo.toml'), patchedManifest);
write(join(shadow, 'Cargo.lock'), readFileSync(join(ROOT, 'Cargo.lock'), 'utf8'));
write(join(shadow, 'src/lib.rs'), patchedLib);
for (const entry of readdirSync(join(ROOT, 'src'))) {
  if (entry !== 'lib.rs') link(join(ROOT, 'src', entry), join(shadow, 'src', entry));
}
for (const entry of ['tests', 'www', 'benches', 'examples', 'README.md']) {
  if (existsSync(join(ROOT, entry))) link(join(ROOT, entry), join(shadow, entry));
}
console.error('note: wasm binding tests build from target/wasm-test-crate (Cargo.toml/lib.rs changes pending)');
console.log(join(shadow, 'Cargo.toml'));
