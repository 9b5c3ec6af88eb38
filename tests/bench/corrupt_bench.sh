#!/usr/bin/env bash
# corrupt_bench.sh: speed of the 15 main corruptions x 5 severities (75 pairs) on 224-px
# images, on a Vulkan device (lavapipe here) and on the CPU executor, against the Python
# reference's 2.86 s per image for all 75 pairs (methods/corruptions.md 11: imagecorruptions,
# one thread, 2-core VM). Not a pass/fail test.
#
# usage: tests/bench/corrupt_bench.sh [N_IMAGES] [BATCH] [FOVEA_BINARY]
#
# What is measured: `fovea corrupt --bench` calls fv_corrupt_images() once per (corruption,
# severity) on all N images (in graph runs of BATCH images) and times that call with a wall
# clock. The time therefore covers everything one call does per image: widening the bytes to
# floats, the host-side parts of a corruption (glass blur's sequential copy chain, frost crops,
# motion blur's and snow's per-image rays, spatter's water mask, the JPEG round trip), writing
# the inputs, running the recorded graph, reading the output back and narrowing it to bytes.
# Not covered: PNG decoding, the Resize 256 + CenterCrop 224 preprocessing, writing files, and
# building/recording each pair's graph and pipelines (one untimed warm-up call of BATCH images
# per pair does that first). Each table cell is that pair's time divided by N (ms per image);
# "ms per image for all 75 pairs" is their sum, the time to make all 75 corrupted versions of
# one image. The CPU executor runs the image ops on one thread (by design: engine/ref/ref.c);
# lavapipe spreads each dispatch over the machine's cores. On a shared machine, run before/after
# comparisons back to back: load from other jobs moves these numbers by 20-50%.
#
# The images are the bundled scenes (assets/samples/scenes) under --imagenet-preprocess
# (Resize 256 + CenterCrop 224), copied under N distinct names so every copy gets its own key.
set -eu
n=${1:-8}
batch=${2:-8}
root=$(cd "$(dirname "$0")/../.." && pwd)
fovea=${3:-$root/build/fovea}
reference_ms=2860

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
scenes=("$root"/assets/samples/scenes/*.png)
for ((i = 0; i < n; i++)); do
  cp "${scenes[i % ${#scenes[@]}]}" "$tmp/img$(printf %04d "$i").png"
done

run() { # run LABEL DEVICE
  local label=$1 device=$2
  echo "== $label: $n images of 224x224, batch $batch"
  "$fovea" corrupt --bench --corruption main --severity all --imagenet-preprocess --batch "$batch" \
    --device "$device" "$tmp" 2>/dev/null | tee "$tmp/$label.txt"
  local ms
  ms=$(sed -n 's/.* = \([0-9.]*\) corruptions\/s, \([0-9.]*\) ms per image .*/\2/p' "$tmp/$label.txt")
  awk -v ms="$ms" -v ref="$reference_ms" -v l="$label" \
    'BEGIN { printf "%s: %.1f ms per image for all 75 pairs = %.2fx the Python reference (%d ms; goal >= 50x)\n\n", l, ms, ref / ms, ref }'
}

run vulkan auto
run cpu cpu
