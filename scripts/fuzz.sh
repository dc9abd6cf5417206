#!/usr/bin/env bash
# Fuzzes the public entry point, ecg_digitizer::digitize(bytes, &Options::default()) (decode and
# every later stage), with cargo-fuzz and libFuzzer. Any panic, abort, timeout or out-of-memory
# is a bug: libFuzzer stops and saves the input under fuzz/artifacts/<target>/.
#
#   bash scripts/fuzz.sh              # 10 minutes, one process
#   bash scripts/fuzz.sh 3600         # an hour
#   JOBS=2 bash scripts/fuzz.sh 3600  # two processes (logs in fuzz-*.log)
#   TARGET=decode bash scripts/fuzz.sh  # stage 1 alone: decoders, limits, downscaling
#                                       # (~10× more inputs per second than the pipeline)
#
# Reproduce, then minimise, a saved input:
#   RUSTC_BOOTSTRAP=1 cargo fuzz run -a digitize fuzz/artifacts/digitize/crash-<hash>
#   RUSTC_BOOTSTRAP=1 cargo fuzz tmin -a digitize fuzz/artifacts/digitize/crash-<hash>
# (RUST_BACKTRACE=1 for the panic's backtrace)
# then add the minimised file as a regression test (tests/hostile.rs).
#
# cargo-fuzz needs nightly compiler flags (-Zsanitizer=address, coverage instrumentation);
# RUSTC_BOOTSTRAP=1 lets the stable toolchain accept them. -a keeps debug assertions on, so
# arithmetic overflow counts as a crash too. Seeds: fuzz/corpus/digitize (committed, made by
# scripts/make-bad-corpus.py); inputs found along the way go to fuzz/corpus-work/<target>
# (ignored by git).
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -d "$HOME/.cargo/bin" ]] && export PATH="$HOME/.cargo/bin:$PATH"

seconds="${1:-600}"
jobs="${JOBS:-1}"
target="${TARGET:-digitize}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1

parallel=()
if ((jobs > 1)); then
  parallel=(-jobs="$jobs" -workers="$jobs")
fi
mkdir -p "fuzz/corpus-work/$target"
# -timeout: seconds per input before it counts as a hang (pages up to the 100 MP limit are
# legal input, and ASan makes everything slower); -rss_limit_mb: the decoder may use 1 GiB.
cargo fuzz run -a "$target" "fuzz/corpus-work/$target" fuzz/corpus/digitize -- \
  -max_total_time="$seconds" -timeout=30 -rss_limit_mb=4096 -max_len=131072 \
  -print_final_stats=1 "${parallel[@]}"
