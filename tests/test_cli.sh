#!/usr/bin/env bash
# test_cli.sh: the fovea command end to end: help, devices, classify in text and JSON on the
# Vulkan device and the CPU executor, and bad input — each must fail with exit status != 0 and
# one clear message naming the file, never a crash. Run by ctest with FOVEA_BIN set.
set -u
source "$(dirname "$0")/cli_lib.sh"

# le64 N: N as 8 little-endian bytes
le64() { local n=$1 i; for i in 0 1 2 3 4 5 6 7; do printf "\\x$(printf %02x $(((n >> (8 * i)) & 255)))"; done; }
# safetensors FILE HEADER [DATA_BYTES]: writes a file with that JSON header and zeroed data
safetensors() {
  { le64 ${#2}; printf '%s' "$2"; head -c "${3:-0}" /dev/zero; } >"$1"
}

model=tests/fixtures/vit/vit_cls_token
images=tests/fixtures/preprocess
img=$images/rgb_53x37.png

# ---- help and devices --------------------------------------------------------------------------
expect "fovea --help lists classify" bash -c "'$fovea' --help | grep -q classify"
expect "classify --help documents --logits" bash -c "'$fovea' classify --help | grep -q -- --logits"
expect "bench --help documents --arch" bash -c "'$fovea' bench --help | grep -q -- --arch"
expect "devices lists device 0" bash -c "'$fovea' devices | grep -q '^0: '"
expect "devices --json is a JSON array" bash -c "'$fovea' devices --json | head -1 | grep -q '^\['"
"$fovea" frobnicate >/dev/null 2>&1; [ $? = 2 ] && ok || bad "unknown command exits 2"

# ---- a machine without Vulkan: help and --device cpu work, a Vulkan device is a clear error ----
if [ -n "${FOVEA_NO_VULKAN_SHIM:-}" ]; then
  novk() { LD_PRELOAD="$FOVEA_NO_VULKAN_SHIM" ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0" "$@"; }
  expect "no Vulkan: --help works" bash -c "$(declare -f novk); novk '$fovea' --help >/dev/null"
  expect "no Vulkan: classify --device cpu works" \
    bash -c "$(declare -f novk); novk '$fovea' classify --device cpu --model tests/fixtures/vit/vit_reg4 tests/fixtures/cli/vit_reg4.png >/dev/null"
  novk "$fovea" devices >/dev/null 2>"$tmp/novk.err"
  expect "no Vulkan: devices fails with one message naming the loader" \
    bash -c "test \$(grep -c 'fovea: error:' '$tmp/novk.err') = 1 && grep -q 'libvulkan' '$tmp/novk.err'"
else
  bad "FOVEA_NO_VULKAN_SHIM is not set"
fi

# ---- classify -----------------------------------------------------------------------------------
"$fovea" classify --model "$model" --json --logits "$img" >"$tmp/gpu.json" 2>"$tmp/gpu.err"
expect "classify --json succeeds" test $? = 0
expect "one JSON line per image" test "$(wc -l <"$tmp/gpu.json")" = 1
expect "JSON has file, top, index, label, prob, logits" \
  grep -q '^{"file": ".*rgb_53x37.png", "top": \[{"index": [0-9]*, "label": ".*", "prob": .*}\], "logits": \[.*\]}$' "$tmp/gpu.json"
expect "lavapipe warning is one line" test "$(grep -c 'warning' "$tmp/gpu.err")" -le 1
"$fovea" classify --model "$model" --device cpu --json --logits "$img" >"$tmp/cpu.json" 2>/dev/null
expect "classify --device cpu succeeds" test $? = 0
# The two executors agree on every logit within 1e-3.
logits() { sed 's/.*"logits": \[\(.*\)\]}/\1/' "$1" | tr ',' '\n'; }
expect "Vulkan and CPU logits agree within 1e-3" \
  bash -c "paste <(sed 's/.*\"logits\": \[\(.*\)\]}/\1/' '$tmp/gpu.json' | tr ',' '\n') \
                 <(sed 's/.*\"logits\": \[\(.*\)\]}/\1/' '$tmp/cpu.json' | tr ',' '\n') |
           awk '{d = \$1 - \$2; if (d < 0) d = -d; if (d > m) m = d; n++} END {exit !(n > 1 && m <= 1e-3)}'"
n_png=$(ls "$images"/*.png "$images"/*.jpg 2>/dev/null | wc -l)
"$fovea" classify --model "$model" --json --top 3 --batch 4 "$images" >"$tmp/dir.json" 2>/dev/null
expect "a directory classifies all its images" test "$(wc -l <"$tmp/dir.json")" = "$n_png"
expect "--top 3 gives three labels" bash -c "head -1 '$tmp/dir.json' | grep -o '\"index\"' | wc -l | grep -qx 3"
"$fovea" classify --model "$model" --top 2 "$img" >"$tmp/text.out" 2>/dev/null
expect "text output: file line and two label lines" test "$(wc -l <"$tmp/text.out")" = 3
expect "text output shows percentages" grep -q '%' "$tmp/text.out"
# The progress bar shows only when stderr is a terminal: `script` provides one.
if command -v script >/dev/null; then
  script -qec "'$fovea' classify --model '$model' --device cpu '$images'" /dev/null >"$tmp/tty.out" 2>&1
  expect "progress bar on a terminal" grep -q "/$n_png images" "$tmp/tty.out"
fi
"$fovea" classify --model "$model" --device cpu "$images" 2>"$tmp/notty.err" >/dev/null
expect "no progress bar when stderr is not a terminal" bash -c "! grep -q 'images' '$tmp/notty.err'"
"$fovea" classify --model "$model" --profile "$img" >/dev/null 2>"$tmp/profile.err"
expect "--profile prints a per-op table" grep -q 'matmul' "$tmp/profile.err"

# ---- PyTorch parity through the whole CLI, every model variant, both executors -----------------
# tests/fixtures/cli/NAME.png and NAME.logits come from tools/make_cli_fixtures.py: PIL decode,
# torchvision's eval transform and the PyTorch model, for tests/fixtures/vit/NAME.
for png in tests/fixtures/cli/*.png; do
  name=$(basename "$png" .png)
  for device in 0 cpu; do
    "$fovea" classify --model "tests/fixtures/vit/$name" --device "$device" --json --logits "$png" \
      >"$tmp/parity.json" 2>/dev/null
    expect "classify $name on device $device" test $? = 0
    expect "$name on device $device: logits within 1e-3 of PyTorch" \
      bash -c "paste <(sed 's/.*\"logits\": \[\(.*\)\]}/\1/' '$tmp/parity.json' | tr ',' '\n') \
                     <(od -An -v -tf4 'tests/fixtures/cli/$name.logits' | tr -s ' ' '\n' | grep -v '^$') |
               awk '{d = \$1 - \$2; if (d < 0) d = -d; if (d > m) m = d; n++} END {exit !(n >= 5 && m <= 1e-3)}'"
  done
done

# ---- bad input ----------------------------------------------------------------------------------
: >"$tmp/empty.png"
expect_error "zero-byte image" "empty.png" classify --model "$model" "$tmp/empty.png"
head -c 300 /dev/urandom >"$tmp/noise.png"
expect_error "corrupt image" "noise.png" classify --model "$model" "$tmp/noise.png"
head -c 200 "$img" >"$tmp/truncated.png"
expect_error "truncated image" "truncated.png" classify --model "$model" "$tmp/truncated.png"
mkdir "$tmp/noimages" && : >"$tmp/noimages/readme.txt"
expect_error "directory without images" "noimages" classify --model "$model" "$tmp/noimages"
expect_error "missing image" "nothere.png" classify --model "$model" "$tmp/nothere.png"
expect_error "missing model" "nomodel" classify --model "$tmp/nomodel" "$img"
expect_error "bad --top" "--top" classify --model "$model" --top zero "$img"
expect_error "bad --device" "device" classify --model "$model" --device 99 "$img"

bad_model() { # bad_model NAME: a copy of the fixture model folder to break
  mkdir -p "$tmp/$1" && cp "$model/config.json" "$model/model.safetensors" "$tmp/$1/"
}
bad_model truncated
size=$(stat -c %s "$model/model.safetensors")
head -c $((size - 100)) "$model/model.safetensors" >"$tmp/truncated/model.safetensors"
expect_error "truncated safetensors" "model.safetensors" classify --model "$tmp/truncated" "$img"
bad_model zero && : >"$tmp/zero/model.safetensors"
expect_error "zero-byte safetensors" "model.safetensors" classify --model "$tmp/zero" "$img"
bad_model pastend && { le64 100000; head -c 64 /dev/zero; } >"$tmp/pastend/model.safetensors"
expect_error "header length past the end" "model.safetensors" classify --model "$tmp/pastend" "$img"
bad_model overlap
safetensors "$tmp/overlap/model.safetensors" \
  '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}' 12
expect_error "overlapping offsets" "overlap" classify --model "$tmp/overlap" "$img"
bad_model range
safetensors "$tmp/range/model.safetensors" '{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}' 8
expect_error "offsets past the data" "model.safetensors" classify --model "$tmp/range" "$img"
bad_model mismatch
safetensors "$tmp/mismatch/model.safetensors" '{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}' 8
expect_error "dtype/shape mismatch" "model.safetensors" classify --model "$tmp/mismatch" "$img"
bad_model dtype
safetensors "$tmp/dtype/model.safetensors" '{"a":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}}' 4
expect_error "unknown dtype" "I32" classify --model "$tmp/dtype" "$img"
bad_model missing
safetensors "$tmp/missing/model.safetensors" '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}' 4
expect_error "missing tensor" "patch_embed" classify --model "$tmp/missing" "$img"
bad_model config && printf '{"architecture": "vit_tiny_patch16_224", "num_classes": ' >"$tmp/config/config.json"
expect_error "malformed config.json" "config.json" classify --model "$tmp/config" "$img"
# An unexpected tensor: the fixture's header plus an empty tensor at the end of the data.
bad_model extra
hlen=$(od -An -tu8 -N8 "$model/model.safetensors" | tr -d ' ')
header=$(tail -c +9 "$model/model.safetensors" | head -c "$hlen")
data=$((size - 8 - hlen))
header="{\"extra.weight\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[$data,$data]},${header#\{}"
{ le64 ${#header}; printf '%s' "$header"; tail -c +$((9 + hlen)) "$model/model.safetensors"; } >"$tmp/extra/model.safetensors"
expect_error "unexpected tensor" "extra.weight" classify --model "$tmp/extra" "$img"

finish
