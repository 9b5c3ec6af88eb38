#!/usr/bin/env bash
# filter_bench.sh: `fovea filter` throughput, decode -> classify -> encode, on a 640x480 H.264 clip of
# Fashion-MNIST tiles (assets/samples) made by tests/test_video (FRAMES frames, default 100),
# classified by the bundled model and written as H.264 .mp4, on the CPU executor and on Vulkan device
# 0 (lavapipe on a machine without a GPU). Prints frames per second, each stage's busy time and share
# (stages run at once on three threads, so busy times overlap and add up to more than the wall time;
# on a loaded machine they include time spent waiting for a core), and the peak resident memory.
# With LONG=1 it also runs a clip 5x longer on the CPU executor: the peak memory should stay about
# the same (bounded queues).
# Usage: tests/bench/filter_bench.sh   (needs a build in $BUILD, default build/)
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${BUILD:-build}
fovea=${FOVEA_BIN:-$build/fovea}
tool=${CLIP_TOOL:-$build/tests/test_video}
frames=${FRAMES:-100}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
"$tool" make "$tmp/in.mkv" "$frames" 640 480 x264

run() { # run LABEL FRAMES-CLIP DEVICE
  local label=$1 clip=$2 dev=$3
  /usr/bin/time -f '%M' -o "$tmp/rss" "$fovea" filter "$clip" "$tmp/out.mp4" --device "$dev" --json >"$tmp/json" 2>"$tmp/err" ||
    { echo "$label: failed: $(cat "$tmp/err")"; return 1; }
  /usr/bin/python3 - "$label" "$(cat "$tmp/json")" "$(tail -1 "$tmp/rss")" <<'PY'
import json, sys
label, j, rss = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
s = j["stage_seconds"]
busy = sum(s.values())
shares = ", ".join(f"{k} {v:.2f} s ({100 * v / busy:.0f}%)" for k, v in s.items() if v > 0)
print(f"{label}: {j['frames_read']} frames in {j['seconds']:.2f} s = {j['frames_per_second']:.1f} frames/s on {j['device']}; "
      f"busy: {shares}; peak RSS {rss / 1024:.0f} MiB")
PY
}

run "640x480, CPU executor" "$tmp/in.mkv" cpu
run "640x480, Vulkan device 0" "$tmp/in.mkv" 0
if [ "${LONG:-0}" = 1 ]; then
  "$tool" make "$tmp/long.mkv" $((frames * 5)) 640 480 x264
  run "640x480, ${frames}x5 frames, CPU executor" "$tmp/long.mkv" cpu
fi
