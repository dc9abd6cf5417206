#!/usr/bin/env bash
# Installs everything the project needs to build, serve and test; safe to run again, and it
# skips what is already there:
#   Debian packages (build tools, Node.js/npm, chromium + chromedriver for the page tests),
#   Rust with the wasm32-unknown-unknown target, wasm-bindgen-cli pinned to the crate's
#   wasm-bindgen, npm packages (playwright-core, binaryen's wasm-opt), and the Python `wfdb`
#   package for the WFDB round-trip test. No browser is downloaded: tests use /usr/bin/chromium.
# Then: npm run build && npm run serve   (all tests: bash scripts/test.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

WASM_BINDGEN_VERSION=0.2.130 # must equal the `wasm-bindgen = "=…"` pin in Cargo.toml
say() { printf '\n== %s\n' "$*"; }
as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

missing_apt=()
command -v curl >/dev/null || missing_apt+=(curl ca-certificates)
command -v cc >/dev/null || missing_apt+=(build-essential)
command -v node >/dev/null || missing_apt+=(nodejs)
command -v npm >/dev/null || missing_apt+=(npm)
[[ -x /usr/bin/chromium ]] || missing_apt+=(chromium)
[[ -x /usr/bin/chromedriver ]] || missing_apt+=(chromium-driver)
command -v python3 >/dev/null || missing_apt+=(python3 python3-pip)
if ((${#missing_apt[@]})); then
  say "apt-get install ${missing_apt[*]}"
  as_root apt-get update
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing_apt[@]}"
fi

node_major="$(node -p 'process.versions.node.split(".")[0]')"
if ((node_major < 18)); then
  echo "error: Node $(node --version) is too old: building and serving need Node 18 or newer" >&2
  exit 1
elif ((node_major < 20)); then
  echo "warning: Node $(node --version): building and serving work, but the tests (playwright-core) need Node 20 or newer" >&2
fi

if ! command -v cargo >/dev/null; then
  if [[ -x "$HOME/.cargo/bin/cargo" ]]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  else
    say "installing Rust with rustup"
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
fi

if command -v rustup >/dev/null; then
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    say "rustup target add wasm32-unknown-unknown"
    rustup target add wasm32-unknown-unknown
  fi
else
  echo "warning: no rustup: make sure your Rust has the wasm32-unknown-unknown target" >&2
fi

if [[ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]]; then
  say "cargo install wasm-bindgen-cli $WASM_BINDGEN_VERSION (takes several minutes)"
  cargo install wasm-bindgen-cli --version "=$WASM_BINDGEN_VERSION"
fi

if ! python3 -c 'import wfdb' 2>/dev/null; then
  say "pip install wfdb (for the WFDB round-trip test)"
  python3 -m pip install --quiet --disable-pip-version-check wfdb ||
    python3 -m pip install --quiet --disable-pip-version-check --break-system-packages wfdb
fi

say "npm packages"
if [[ -f package-lock.json ]]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi

say "ready: npm run build && npm run serve   (tests: bash scripts/test.sh)"
