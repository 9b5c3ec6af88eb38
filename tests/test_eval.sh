#!/usr/bin/env bash
# test_eval.sh: `fovea eval` end to end on small data sets built here: a synthetic IDX directory
# (plain and gzipped) and ImageFolder trees made of fixture PNGs, with the fixture ViTs of
# tests/fixtures/vit (they take 16×16 RGB and 24×40 gray; preprocessing resizes the 28×28 items).
# Checks the JSON keys and their consistency (top1 in 0..1, confusion sums to images), that Vulkan
# and the CPU executor give the same top-1 and confusion, batching and --limit, the text report, the
# heat-map PNG, the class mapping of ImageFolder trees, and that bad input fails with one message.
# The accuracy of the real Fashion-MNIST model is tests/test_fmnist_parity.c's job.
set -u
source "$(dirname "$0")/cli_lib.sh"

# idx DIR PREFIX COUNT IMAGE_MAGIC LABEL_MAGIC LABEL_COUNT [MAX_LABEL]: writes PREFIX-images-idx3-ubyte
# (COUNT 28×28 images of deterministic patterns) and PREFIX-labels-idx1-ubyte (label i = i % 7,
# or MAX_LABEL for the last item when given).
idx() {
  local dir=$1 prefix=$2 n=$3 im=$4 lm=$5 nl=$6 maxl=${7:-}
  mkdir -p "$dir"
  awk -v n="$n" -v m="$im" 'BEGIN {
    printf "%c%c%c%c", 0, 0, 8, m
    printf "%c%c%c%c%c%c%c%c%c%c%c%c", 0, 0, int(n / 256), n % 256, 0, 0, 0, 28, 0, 0, 0, 28
    for (i = 0; i < n; i++) for (y = 0; y < 28; y++) for (x = 0; x < 28; x++)
      printf "%c", ((i % 7) * 37 + (i % 7 == 3 ? x * 9 : y * (i % 5 + 1) * 3) + i) % 256 }' >"$dir/$prefix-images-idx3-ubyte"
  awk -v n="$nl" -v m="$lm" -v maxl="$maxl" 'BEGIN {
    printf "%c%c%c%c%c%c%c%c", 0, 0, 8, m, 0, 0, int(n / 256), n % 256
    for (i = 0; i < n; i++) printf "%c", (maxl != "" && i == n - 1) ? maxl : i % 7 }' >"$dir/$prefix-labels-idx1-ubyte"
}

rgb=tests/fixtures/vit/vit_cls_token  # 10 classes, 16×16 RGB
gray=tests/fixtures/vit/vit_gray_avg_24x40  # 7 classes, 24×40 gray
data=$tmp/idx
idx "$data" t10k 23 3 1 23
idx "$data" train 9 3 1 9

# json_int FILE KEY / json_num FILE KEY: a top-level scalar from fovea's one-line JSON
json_num() { grep -o "\"$2\": [^,}]*" "$1" | head -1 | sed 's/.*: //'; }
# the confusion matrix as one number per line, rows in order
confusion() { sed 's/.*"confusion": \[\(.*\)\]}$/\1/' "$1" | tr -d '[] ' | tr ',' '\n'; }

# ---- help ----------------------------------------------------------------------------------------
expect "fovea --help lists eval" bash -c "'$fovea' --help | grep -q '^  eval'"
expect "eval --help documents --confusion-png" bash -c "'$fovea' eval --help | grep -q -- --confusion-png"

# ---- JSON on Vulkan and the CPU executor ----------------------------------------------------------
for model in "$rgb" "$gray"; do
  name=$(basename "$model")
  "$fovea" eval --model "$model" --dataset "$data" --json >"$tmp/$name.vk.json" 2>"$tmp/$name.vk.err"
  expect "$name: eval --json on Vulkan succeeds ($(tail -1 "$tmp/$name.vk.err"))" test $? = 0
  j=$tmp/$name.vk.json
  expect "$name: one JSON line" test "$(wc -l <"$j")" = 1
  for key in images top1 top5 per_class confusion images_per_second device class_mapping seconds split; do
    expect "$name: JSON has \"$key\"" grep -q "\"$key\": " "$j"
  done
  expect "$name: images = 23" test "$(json_num "$j" images)" = 23
  expect "$name: class_mapping index" grep -q '"class_mapping": "index"' "$j"
  expect "$name: top1 in 0..1" awk -v v="$(json_num "$j" top1)" 'BEGIN {exit !(v >= 0 && v <= 1)}'
  expect "$name: top5 >= top1" awk -v a="$(json_num "$j" top1)" -v b="$(json_num "$j" top5)" 'BEGIN {exit !(b >= a && b <= 1)}'
  expect "$name: confusion sums to images" test "$(confusion "$j" | awk '{s += $1} END {print s}')" = 23
  k=$(json_num "$j" num_classes)
  expect "$name: confusion is K×K" test "$(confusion "$j" | wc -l)" = $((k * k))
  expect "$name: per_class has K entries" test "$(grep -o '"index": ' "$j" | wc -l)" = "$k"
  diagonal=$(confusion "$j" | awk -v k="$k" '{ if ((NR - 1) % k == int((NR - 1) / k)) d += $1 } END { print d + 0 }')
  expect "$name: top1_correct is the confusion's diagonal" test "$diagonal" = "$(json_num "$j" top1_correct)"
  "$fovea" eval --model "$model" --dataset "$data" --json --device cpu >"$tmp/$name.cpu.json" 2>/dev/null
  expect "$name: eval --device cpu succeeds" test $? = 0
  expect "$name: Vulkan and CPU give the same top-1" test "$(json_num "$j" top1)" = "$(json_num "$tmp/$name.cpu.json" top1)"
  expect "$name: Vulkan and CPU give the same confusion" test "$(confusion "$j")" = "$(confusion "$tmp/$name.cpu.json")"
  expect "$name: device cpu reported" grep -q '"device": "cpu"' "$tmp/$name.cpu.json"
done
j=$tmp/vit_cls_token.vk.json

# gzipped files, an odd batch size (partial last batch) and the train split
mkdir -p "$tmp/gz"
for f in "$data"/t10k-*; do gzip -n -c "$f" >"$tmp/gz/$(basename "$f").gz"; done
"$fovea" eval --model "$rgb" --dataset "$tmp/gz" --batch 5 --json >"$tmp/gz.json" 2>/dev/null
expect "gzipped IDX with --batch 5 gives the same confusion" test "$(confusion "$tmp/gz.json")" = "$(confusion "$j")"
"$fovea" eval --model "$rgb" --dataset "$data" --split train --json >"$tmp/train.json" 2>/dev/null
expect "--split train reads train-*" test "$(json_num "$tmp/train.json" images)" = 9
"$fovea" eval --model "$rgb" --dataset "$data" --limit 4 --json >"$tmp/limit.json" 2>/dev/null
expect "--limit 4 evaluates 4 images" test "$(json_num "$tmp/limit.json" images)" = 4

# ---- text report and heat map ---------------------------------------------------------------------
"$fovea" eval --model "$gray" --dataset "$data" --device cpu --confusion-png "$tmp/conf.png" >"$tmp/text.out" 2>/dev/null
expect "text report succeeds" test $? = 0
expect "text report shows top-1 and top-5" bash -c "grep -q '^top-1 ' '$tmp/text.out' && grep -q '^top-5 ' '$tmp/text.out'"
expect "text report has the confusion matrix" grep -q '^confusion matrix (rows: true class' "$tmp/text.out"
expect "text report: one per-class row per class" test "$(grep -c '^    [0-6]  [a-z]' "$tmp/text.out")" = 7
expect "heat map is a PNG" bash -c "head -c 8 '$tmp/conf.png' | od -An -tx1 | grep -q '89 50 4e 47 0d 0a 1a 0a'"
# IHDR width and height: 7 classes × 24 px = 168 = 0xa8
expect "heat map is 168×168" bash -c "od -An -tx1 -j16 -N8 '$tmp/conf.png' | grep -q '00 00 00 a8 00 00 00 a8'"

# ---- ImageFolder ----------------------------------------------------------------------------------
png=tests/fixtures/preprocess
mkdir -p "$tmp/byname/Goldfish" "$tmp/byname/great_white_shark" "$tmp/byname/TENCH"
cp "$png/rgb_53x37.png" "$png/gray_64x64.png" "$tmp/byname/Goldfish/"
cp "$png/gray_64x64.png" "$tmp/byname/great_white_shark/"
cp "$png/rgb_53x37.png" "$tmp/byname/TENCH/"
"$fovea" eval --model "$gray" --dataset "$tmp/byname" --json >"$tmp/byname.json" 2>"$tmp/byname.err"
expect "ImageFolder eval succeeds ($(tail -1 "$tmp/byname.err"))" test $? = 0
expect "folders matching label names map by_name" grep -q '"class_mapping": "by_name"' "$tmp/byname.json"
expect "the mapping is said on stderr" grep -q 'mapped by_name' "$tmp/byname.err"
expect "ImageFolder: 4 images" test "$(json_num "$tmp/byname.json" images)" = 4
# by name: goldfish is class 1 (2 images), great white shark 2, tench 0
expect "by_name puts Goldfish's images in class 1" grep -q '{"index": 1, "label": "goldfish", "images": 2,' "$tmp/byname.json"
expect "ImageFolder has a null split" grep -q '"split": null' "$tmp/byname.json"
mkdir -p "$tmp/sorted/cats" "$tmp/sorted/dogs"
cp "$png/rgb_53x37.png" "$tmp/sorted/cats/"
cp "$png/gray_64x64.png" "$png/rgb_53x37.png" "$tmp/sorted/dogs/"
"$fovea" eval --model "$rgb" --dataset "$tmp/sorted" --json >"$tmp/sorted.json" 2>"$tmp/sorted.err"
expect "unknown folder names map sorted" grep -q '"class_mapping": "sorted"' "$tmp/sorted.json"
expect "sorted: dogs are class 1" grep -q '"index": 1, "label": "[^"]*", "images": 2,' "$tmp/sorted.json"
expect "the reason is said on stderr" grep -q "mapped sorted: .*'cats'" "$tmp/sorted.err"

# ---- bad input ------------------------------------------------------------------------------------
expect_error "no --dataset" "--dataset PATH" eval --model "$rgb"
expect_error "unknown split" "unknown split 'val'" eval --model "$rgb" --dataset "$data" --split val
expect_error "missing data set" "$tmp/nope" eval --model "$rgb" --dataset "$tmp/nope"
expect_error "bad --limit" "--limit" eval --model "$rgb" --dataset "$data" --limit 0
expect_error "stray argument" "unexpected argument" eval --model "$rgb" --dataset "$data" extra
expect_error "unknown option" "unknown option '--frob'" eval --dataset "$data" --frob
idx "$tmp/mismatch" t10k 5 3 1 4
expect_error "image and label counts differ" "holds 5 images but .* holds 4 labels" eval --model "$rgb" --dataset "$tmp/mismatch"
idx "$tmp/badmagic" t10k 5 2 1 5
expect_error "wrong images magic" "t10k-images-idx3-ubyte: not an IDX images file" eval --model "$rgb" --dataset "$tmp/badmagic"
idx "$tmp/biglabel" t10k 5 3 1 5 7
expect_error "label >= num_classes" "label 7 of item 4 is not a class of the model (0..6)" eval --model "$gray" --dataset "$tmp/biglabel"
mkdir -p "$tmp/trunc"
head -c 1000 "$tmp/gz/t10k-images-idx3-ubyte.gz" >"$tmp/trunc/t10k-images-idx3-ubyte.gz"
cp "$data/t10k-labels-idx1-ubyte" "$tmp/trunc/"
expect_error "truncated gzip" "t10k-images-idx3-ubyte.gz: truncated gzip" eval --model "$rgb" --dataset "$tmp/trunc"
mkdir -p "$tmp/empty"
expect_error "empty ImageFolder" "neither an IDX directory" eval --model "$rgb" --dataset "$tmp/empty"
mkdir -p "$tmp/emptyclass/a"
expect_error "class folder without images" "class 'a'" eval --model "$rgb" --dataset "$tmp/emptyclass"
expect_error "--split on an ImageFolder" "has no splits" eval --model "$rgb" --dataset "$tmp/sorted" --split test
mkdir -p "$tmp/trainonly" && cp "$data"/train-* "$tmp/trainonly/"
expect_error "test split missing" "t10k-images-idx3-ubyte\[.gz\] for the test split" eval --model "$rgb" --dataset "$tmp/trainonly"
expect_error "unwritable heat map" "$tmp/no/dir/c.png" eval --model "$rgb" --dataset "$data" --limit 2 --confusion-png "$tmp/no/dir/c.png"

finish
