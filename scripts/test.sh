#!/usr/bin/env bash
# Every test of the project, as CI runs it (see .ci/run). Installs what is missing first.
#   1. Rust: unit tests of each stage, end to end on rendered pages, dev fixtures, the CLI;
#   2. the WFDB export read back with the Python wfdb package;
#   3. the web page: wasm binding tests in Node and Chromium, end to end in headless Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -d "$HOME/.cargo/bin" ]] && export PATH="$HOME/.cargo/bin:$PATH"
step() { printf '\n== %s\n' "$*"; }

step "setup"
bash scripts/setup.sh

step "Rust tests (unit, rendered pages, dev fixtures, CLI)"
cargo test --all-targets

step "WFDB round trip"
cargo build --release --bin ecg-digitize
python3 scripts/wfdb_roundtrip.py target/release/ecg-digitize tests/fixtures/dev002.png

step "web page"
bash scripts/test-web.sh

step "all tests passed"
