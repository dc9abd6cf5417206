#!/usr/bin/env bash
# Builds the WebAssembly package into www/pkg, so that www/ can be served as it is.
#   cargo (wasm32, release) → wasm-bindgen --target web → wasm-opt -O3 (npm binaryen)
set -euo pipefail
cd "$(dirname "$0")/.."
# rustup and cargo install put their tools here, which a fresh shell may not have on PATH yet.
[[ -d "$HOME/.cargo/bin" ]] && export PATH="$PATH:$HOME/.cargo/bin"

WASM_BINDGEN_VERSION=0.2.130
if ! command -v wasm-bindgen >/dev/null || [[ "$(wasm-bindgen --version)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]]; then
  echo "error: wasm-bindgen $WASM_BINDGEN_VERSION is missing: run bash scripts/setup.sh" >&2
  exit 1
fi

cargo build --lib --release --target wasm32-unknown-unknown
rm -rf www/pkg
wasm-bindgen --target web --no-typescript --out-dir www/pkg \
  target/wasm32-unknown-unknown/release/ecg_digitizer.wasm

WASM=www/pkg/ecg_digitizer_bg.wasm
WASM_OPT=node_modules/.bin/wasm-opt
if [[ -x "$WASM_OPT" ]]; then
  # -O3, not -Oz: as small once gzipped (about 490 KB) and a third faster.
  # The features match what rustc enables by default for wasm32-unknown-unknown.
  "$WASM_OPT" -O3 --enable-bulk-memory --enable-nontrapping-float-to-int \
    --enable-sign-ext --enable-mutable-globals --enable-multivalue --enable-reference-types \
    "$WASM" -o "$WASM.opt"
  mv "$WASM.opt" "$WASM"
else
  echo "warning: $WASM_OPT not found (run npm install): the .wasm is not optimised" >&2
fi
printf 'built %s: %s bytes, %s bytes gzipped\n' "$WASM" "$(wc -c <"$WASM")" "$(gzip -9c "$WASM" | wc -c)"
