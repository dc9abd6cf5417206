#!/usr/bin/env bash
# Accuracy on pages drawn in ECG-Image-Kit's layout conventions (scripts/kit_style_pages.py):
# the layouts, resolutions and distortions the dev set lacks. Writes the pages, their truth
# and the digitizer's output under DIR (default /tmp/kit-style) and prints the evaluation
# per recipe and per page. Needs Python with numpy, matplotlib and Pillow.
#   bash scripts/kit-style-bench.sh [DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-/tmp/kit-style}"
python3 -c 'import matplotlib, numpy, PIL' 2>/dev/null ||
  python3 -m pip install --quiet --disable-pip-version-check matplotlib numpy pillow
cargo build --release --bin ecg-digitize --example records
rm -rf "$dir/pages" "$dir/pred"
mkdir -p "$dir/pages"
target/release/examples/records "$dir/records" 48
echo "id,recipe" > "$dir/pages/manifest.csv"
n=0
page() { # recipe, then kit_style_pages.py options
  n=$((n + 1))
  local id recipe=$1
  shift
  id=$(printf "p%02d" "$n")
  python3 scripts/kit_style_pages.py "$dir/records/r$(printf %03d "$n").csv" "$dir/pages/$id" \
    --seed "$n" "$@"
  echo "$id,$recipe" >> "$dir/pages/manifest.csv"
}
page 3x4+II --columns 4 --full II
page 3x4+II --columns 4 --full II --grid random
page 3x4+V1 --columns 4 --full V1 --header 1
page 3x4 --columns 4 --full None
page 6x2+II --columns 2 --full II
page 6x2+II --columns 2 --full II --grid brown
page 6x2+V1 --columns 2 --full V1
page 6x2 --columns 2 --full None
page 12x1 --columns 1 --full None
page 12x1+II --columns 1 --full II --grid green
page unlabelled-6x2 --columns 2 --full II --labels 0 --rot 2 --jpeg 90
page unlabelled-12x1 --columns 1 --full None --labels 0 --noise 20 --jpeg 90
page rot8 --columns 4 --full II --rot 8 --noise 5 --jpeg 90
page rot8 --columns 4 --full II --rot -8 --noise 5 --jpeg 90
page rot8 --columns 2 --full II --rot 6 --noise 5 --jpeg 90
page rot8 --columns 1 --full None --rot -7 --noise 5 --jpeg 90
page crop --columns 4 --full II --crop 0.03 --noise 5 --jpeg 90
page crop --columns 4 --full II --crop 0.05 --rot 3 --noise 5 --jpeg 90
page bw --columns 4 --full II --grid bw
page bw --columns 2 --full II --grid bw
page no-pulse --columns 4 --full II --pulse 0
page no-pulse --columns 2 --full II --pulse 0
page header --columns 1 --full II --header 1
page warm --columns 4 --full V1 --noise 35 --warm 1 --jpeg 90
for dpi in 100 150 200 300; do
  for noise in 0 20 35 50; do
    columns=$(( n % 3 == 2 ? 2 : 4 ))
    page "dpi${dpi}-noise${noise}" --columns "$columns" --full II --dpi "$dpi" --noise "$noise" \
      --rot $(( (n * 7) % 11 - 5 )) --jpeg 90
  done
done
target/release/ecg-digitize "$dir/pages" --out-dir "$dir/pred" || true
target/release/ecg-digitize eval --truth "$dir/pages" --pred "$dir/pred" \
  --manifest "$dir/pages/manifest.csv" --pages
