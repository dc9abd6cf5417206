#!/usr/bin/env bash
# Every test of the web page; exits non-zero on the first failure. Assumes setup.sh ran.
#   1. the wasm binding (tests/wasm_binding.rs) in Node, then in headless Chromium;
#   2. the page built as npm run build serves it, and the native CLI for comparison;
#   3. end to end in headless Chromium (tests/web/*.test.mjs): upload, drawing, downloads
#      byte-identical to the CLI, errors, overrides, sample, paste/drop, same-origin requests.
set -euo pipefail
cd "$(dirname "$0")/.."
export CHROMEDRIVER="${CHROMEDRIVER:-/usr/bin/chromedriver}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
step() { printf '\n== %s\n' "$*"; }

wasm_test=(cargo test --target wasm32-unknown-unknown --test wasm_binding)

step "wasm binding tests in Node"
"${wasm_test[@]}"

step "wasm binding tests in headless Chromium"
WASM_BINDGEN_USE_BROWSER=1 "${wasm_test[@]}"

step "build the page (www/pkg) and the native CLI"
bash scripts/build-web.sh
cargo build --release --bin ecg-digitize

step "end-to-end tests in headless Chromium"
node --test --test-concurrency=1 tests/web/
