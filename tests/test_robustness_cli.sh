#!/usr/bin/env bash
# test_robustness_cli.sh: `fovea robustness` end to end with the bundled Fashion-MNIST model, on a few
# test images and a few corruptions: the outputs (RESULTS.json, .csv, .svg, the cell store) exist
# and parse; a run killed with SIGKILL and resumed gives the RESULTS.json of an uninterrupted run
# (timings aside); --resume refuses other parameters (seed, limit, --variant; cell files without a
# "variant" read as imagecorruptions) and a second run refuses to mix without it;
# --shard 1/2 + 2/2 merged equal the unsharded run; --corrupted-dataset reads an ImageNet-C-style
# layout and agrees with `fovea eval` on the same folders; one Vulkan run agrees with the CPU.
# Metric arithmetic is tests/test_robustness.c's job.
set -u
source "$(dirname "$0")/cli_lib.sh"

if ! command -v jq >/dev/null; then
  echo "jq is needed to read the JSON outputs (apt-get install jq)" >&2
  exit 1
fi
data=/usr/share/datasets/fashion-mnist
if [ ! -e "$data/t10k-images-idx3-ubyte.gz" ] && [ ! -e "$data/t10k-images-idx3-ubyte" ]; then
  echo "skipped: Fashion-MNIST not found in $data" && exit 0
fi
model=assets/models/fmnist-vit
# the comparable part of a RESULTS.json: timings (and, for merges, the device and shard) removed
jqe() { jq -e "$@" >/dev/null; }
strip() { jq -S 'del(.cells[].seconds, .seconds_total, .device, .shard)' "$1"; }
small=(--model "$model" --dataset "$data" --limit 16 --corruptions gaussian_noise,contrast --severities 1-2
  --table cifar10 --device cpu)

# ---- help --------------------------------------------------------------------------------------------------
expect "fovea --help lists robustness" bash -c "'$fovea' --help | grep -q '^  robustness'"
expect "robustness --help documents --resume and merge" bash -c \
  "'$fovea' robustness --help | grep -q -- --resume && '$fovea' robustness --help | grep -q 'robustness merge'"

# ---- one small run: the files ------------------------------------------------------------------------------
"$fovea" robustness "${small[@]}" --out "$tmp/a.json" >"$tmp/a.txt" 2>"$tmp/a.err"
expect "small run succeeds ($(tail -1 "$tmp/a.err"))" test $? = 0
expect "RESULTS.json parses" jqe . "$tmp/a.json"
expect "CSV written" test -s "$tmp/a.csv"
expect "SVG written" test -s "$tmp/a.svg"
expect "5 cell files (clean + 2 x 2)" test "$(ls "$tmp/a.json.cells" | grep -c '\.json$')" = 5
expect "JSON keys" jqe 'has("clean_error") and has("errors") and has("ce") and has("mce") and has("relative_mce")
  and .normalisation == "none" and .complete == true and (.ce_definition | length > 0)' "$tmp/a.json"
expect "errors: 5 per corruption, 2 measured" jqe '(.errors | length) == 2 and (.errors.contrast | length) == 5
  and (.errors.contrast[0:2] | all(type == "number")) and (.errors.contrast[2:] | all(. == null))' "$tmp/a.json"
expect "16 images per cell, error = 1 - correct/images" jqe '.cells | length == 5 and
  all(.images == 16 and (.error - (1 - .correct / 16) | fabs) < 1e-12)' "$tmp/a.json"
expect "clean_error is the clean cell's" jqe '.clean_error == (.cells[] | select(.cell == "clean") | .error)' \
  "$tmp/a.json"
expect "cell file records the parameters" jqe '.seed == 0 and .limit == 16 and .table == "cifar10" and .images == 16
  and .variant == "imagecorruptions"
  and (.model | endswith("fmnist-vit")) and (.dataset | length > 0) and has("seconds") and has("shard")' \
  "$tmp/a.json.cells/contrast-2.json"
expect "CSV: header, 5 cells, summary rows" bash -c "head -1 '$tmp/a.csv' | grep -q '^kind,corruption,severity' &&
  test \$(grep -c '^cell,' '$tmp/a.csv') = 5 && grep -q '^summary,clean_error,' '$tmp/a.csv'"
expect "CSV cell errors = JSON cell errors" test \
  "$(grep '^cell,' "$tmp/a.csv" | cut -d, -f2,3,5 | tr ',' ' ')" = \
  "$(jq -r '.cells[] | "\(.corruption) \(.severity) \(.correct)"' "$tmp/a.json")"
expect "SVG is XML with an svg root" bash -c "grep -q '<svg xmlns=\"http://www.w3.org/2000/svg\"' '$tmp/a.svg' &&
  tail -1 '$tmp/a.svg' | grep -q '</svg>' && test \$(grep -c '<polyline' '$tmp/a.svg') = 2"
if command -v python3 >/dev/null; then
  expect "SVG parses as XML" python3 -c "import sys, xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1])" "$tmp/a.svg"
fi
expect "text report names the outputs" grep -q "a.svg" "$tmp/a.txt"

# ---- the cell store refuses to mix runs --------------------------------------------------------------------
expect_error "a second run without --resume is refused" "pass --resume" robustness "${small[@]}" --out "$tmp/a.json"
expect_error "--resume with another seed is refused" "seed" robustness "${small[@]}" --seed 3 --out "$tmp/a.json" \
  --resume
expect_error "--resume with another limit is refused" "limit" robustness "${small[@]/16/12}" --out "$tmp/a.json" \
  --resume
expect_error "--resume with another variant is refused" "variant 'imagecorruptions', but this run has variant 'hendrycks'" \
  robustness "${small[@]}" --variant hendrycks --out "$tmp/a.json" --resume
expect_error "an unknown variant is refused" "--variant: unknown variant 'imagenet-c'" robustness "${small[@]}" \
  --variant imagenet-c --out "$tmp/v.json"
# cell files written before --variant existed have no "variant": they read as imagecorruptions
jq 'del(.variant)' "$tmp/a.json.cells/contrast-1.json" >"$tmp/old-cell.json" &&
  mv "$tmp/old-cell.json" "$tmp/a.json.cells/contrast-1.json"
before=$(jq -S 'del(.seconds_total)' "$tmp/a.json")
rm "$tmp/a.json"
"$fovea" robustness "${small[@]}" --out "$tmp/a.json" --resume --json >"$tmp/again.json" 2>/dev/null
expect "--resume of a finished run runs nothing" jqe '.cells_run == 0 and .cells_resumed == 5' "$tmp/again.json"
expect "... and rewrites the same results, timings included" test "$(jq -S 'del(.seconds_total)' "$tmp/a.json")" = \
  "$before"

# ---- kill -9 in the middle, then --resume ------------------------------------------------------------------
# Enough images per cell that the kill lands mid-run; fewer under the sanitizers (FOVEA_TEST_QUICK),
# which are slower anyway.
long_limit=400
if [ -n "${FOVEA_TEST_QUICK:-}" ]; then long_limit=120; fi
long=(--model "$model" --dataset "$data" --limit "$long_limit" --corruptions gaussian_noise,contrast --table cifar10
  --device cpu --batch 16)
"$fovea" robustness "${long[@]}" --out "$tmp/full.json" >/dev/null 2>"$tmp/full.err"
expect "uninterrupted run succeeds ($(tail -1 "$tmp/full.err"))" test $? = 0
"$fovea" robustness "${long[@]}" --out "$tmp/k.json" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 600); do
  [ -n "$(ls "$tmp/k.json.cells" 2>/dev/null | grep '\.json$')" ] && break
  sleep 0.02
done
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
done_cells=$(ls "$tmp/k.json.cells" 2>/dev/null | grep -c '\.json$')
expect "killed mid-run: some but not all 11 cells stored ($done_cells)" test "$done_cells" -ge 1 -a "$done_cells" -lt 11
if [ -e "$tmp/k.json" ]; then expect "the RESULTS.json of a killed run is whole" jqe . "$tmp/k.json"; fi
"$fovea" robustness "${long[@]}" --out "$tmp/k.json" --resume >/dev/null 2>"$tmp/k.err"
expect "resume succeeds ($(tail -1 "$tmp/k.err"))" test $? = 0
expect "resume reports the stored cells" grep -q "resuming: $done_cells of 11" "$tmp/k.err"
expect "killed + resumed = uninterrupted (timings aside)" test "$(strip "$tmp/k.json")" = "$(strip "$tmp/full.json")"
expect "... with the same CSV (timings aside)" test "$(cut -d, -f1-9 "$tmp/k.csv")" = "$(cut -d, -f1-9 "$tmp/full.csv")"

# ---- shards and merge --------------------------------------------------------------------------------------
for k in 1 2; do
  "$fovea" robustness "${small[@]}" --shard $k/2 --out "$tmp/s$k.json" >/dev/null 2>&1
  expect "shard $k/2 succeeds" test $? = 0
done
expect "shard 1/2 holds 3 cells, 2/2 holds 2" test "$(jq '.cells | length' "$tmp/s1.json") $(jq '.cells | length' \
  "$tmp/s2.json")" = "3 2"
expect "a shard alone is incomplete" jqe '.complete == false and .shard == "1/2"' "$tmp/s1.json"
"$fovea" robustness merge "$tmp/s2.json" "$tmp/s1.json" --out "$tmp/m.json" >/dev/null 2>"$tmp/m.err"
expect "merge succeeds ($(tail -1 "$tmp/m.err"))" test $? = 0
expect "merged shards = the unsharded run" test "$(strip "$tmp/m.json")" = "$(strip "$tmp/a.json")"
expect "merged CSV = the unsharded CSV (timings aside)" test "$(cut -d, -f1-9 "$tmp/m.csv")" = \
  "$(cut -d, -f1-9 "$tmp/a.csv")"
"$fovea" robustness merge "$tmp/s1.json.cells" "$tmp/s2.json.cells" --out "$tmp/md.json" --baseline none \
  >/dev/null 2>&1
expect "merging the cell folders gives the same cells" test "$(jq -c '[.cells[] | del(.seconds)]' "$tmp/md.json")" = \
  "$(jq -c '[.cells[] | del(.seconds)]' "$tmp/a.json")"
"$fovea" robustness "${small[@]}" --seed 5 --shard 2/2 --out "$tmp/other.json" >/dev/null 2>&1
expect_error "merging shards of different seeds is refused" "seed" robustness merge "$tmp/s1.json" "$tmp/other.json" \
  --out "$tmp/bad.json"
expect_error "merge needs --out" "--out" robustness merge "$tmp/s1.json"

# ---- a baseline model's RESULTS.json -----------------------------------------------------------------------
"$fovea" robustness "${small[@]}" --severities 1-5 --corruptions contrast --out "$tmp/base.json" >/dev/null 2>&1
"$fovea" robustness "${small[@]}" --severities 1-5 --corruptions contrast --baseline "$tmp/base.json" \
  --out "$tmp/self.json" >/dev/null 2>&1
expect "a model normalised by its own results: CE 100" jqe '.normalisation == "baseline" and
  (.ce.contrast - 100 | fabs) < 1e-9 and (.relative_ce.contrast - 100 | fabs) < 1e-9' "$tmp/self.json"
expect "unnormalised CE is the mean error in %" jqe '(.ce.contrast - 100 * (.errors.contrast | add) / 5 | fabs)
  < 1e-9' "$tmp/base.json"

# ---- dataset mode: an ImageNet-C-style layout --------------------------------------------------------------
# DIR/contrast/<1..5>/<class>/<image>: the bundled Fashion-MNIST samples in class folders, the same
# images at every severity, so every cell must give the error `fovea eval` gives on one of them.
layout=$tmp/layout
for s in 1 2 3 4 5; do
  for f in assets/samples/fmnist-*.png; do
    class=$(basename "$f" .png | cut -d- -f3-)
    mkdir -p "$layout/contrast/$s/$class"
    cp "$f" "$layout/contrast/$s/$class/"
  done
done
"$fovea" robustness --model "$model" --corrupted-dataset "$layout" --device cpu --out "$tmp/d.json" >/dev/null \
  2>"$tmp/d.err"
expect "dataset mode succeeds ($(tail -1 "$tmp/d.err"))" test $? = 0
"$fovea" eval --model "$model" --dataset "$layout/contrast/3" --device cpu --json >"$tmp/eval.json" 2>/dev/null
expect "dataset mode: every severity = fovea eval on the folder" jqe --argjson top1 "$(jq .top1 "$tmp/eval.json")" \
  '.mode == "dataset" and (.errors.contrast | all((. - (1 - $top1)) | fabs < 1e-12))' "$tmp/d.json"
expect "dataset mode: AlexNet normalisation by default, no clean cell" jqe '.normalisation == "alexnet" and
  .clean_error == null and .relative_mce == null and (.ce.contrast | type == "number")' "$tmp/d.json"
expect_error "dataset mode refuses --table" "already corrupted" robustness --corrupted-dataset "$layout" --table tiny \
  --out "$tmp/x.json"
expect_error "dataset mode refuses --variant" "already corrupted" robustness --corrupted-dataset "$layout" \
  --variant hendrycks --out "$tmp/x.json"

# ---- dataset mode on files written by `fovea corrupt` = generation mode ------------------------------------
# The bundled samples as an ImageFolder; `fovea corrupt` writes their corrupted copies, sorted here
# into DIR/<corruption>/<severity>/<class>/. For deterministic corruptions (contrast, pixelate) the
# files hold exactly what generation mode computes in memory, so both modes must give the same
# errors; and the clean cell comes from --dataset in both.
samples=$tmp/samples
for f in assets/samples/fmnist-*.png; do
  class=$(basename "$f" .png | cut -d- -f3-)
  mkdir -p "$samples/$class" && cp "$f" "$samples/$class/"
done
if "$fovea" corrupt --help >/dev/null 2>&1; then
  "$fovea" corrupt --corruption contrast,pixelate --severity all --table cifar10 --device cpu --out "$tmp/cor" \
    assets/samples/fmnist-*.png >/dev/null 2>"$tmp/cor.err"
  expect "fovea corrupt writes the layout ($(tail -1 "$tmp/cor.err"))" test $? = 0
  for f in "$tmp"/cor/*/*/*.png; do
    rel=${f#"$tmp/cor/"}
    class=$(basename "$f" .png | cut -d- -f3-)
    mkdir -p "$tmp/inc/$(dirname "$rel")/$class" && mv "$f" "$tmp/inc/$(dirname "$rel")/$class/"
  done
  common=(--model "$model" --dataset "$samples" --device cpu --baseline none)
  "$fovea" robustness "${common[@]}" --corrupted-dataset "$tmp/inc" --out "$tmp/files.json" >/dev/null 2>"$tmp/f.err"
  expect "dataset mode on fovea corrupt's files succeeds ($(tail -1 "$tmp/f.err"))" test $? = 0
  "$fovea" robustness "${common[@]}" --corruptions contrast,pixelate --table cifar10 --out "$tmp/mem.json" \
    >/dev/null 2>"$tmp/mem.err"
  expect "generation mode on the same images succeeds ($(tail -1 "$tmp/mem.err"))" test $? = 0
  expect "files and in-memory corruption give the same errors" test \
    "$(jq -c '[.clean_error, .errors, .cells[].images]' "$tmp/files.json")" = \
    "$(jq -c '[.clean_error, .errors, .cells[].images]' "$tmp/mem.json")"
  expect "... and the errors are not all the same" jqe '[.errors[][]] | unique | length > 1' "$tmp/mem.json"
fi

# ---- bad input ---------------------------------------------------------------------------------------------
expect_error "no --out" "--out" robustness --dataset "$data"
expect_error "unknown corruption" "smog" robustness "${small[@]}" --corruptions smog --out "$tmp/x.json"
expect_error "bad severities" "severities" robustness "${small[@]}" --severities 0-3 --out "$tmp/x.json"
expect_error "bad shard" "shard" robustness "${small[@]}" --shard 3/2 --out "$tmp/x.json"

# ---- one Vulkan run (lavapipe here): the same errors as the CPU executor ------------------------------------
if "$fovea" devices >/dev/null 2>&1; then
  "$fovea" robustness --model "$model" --dataset "$data" --limit 8 --corruptions gaussian_noise,contrast \
    --severities 1 --table cifar10 --out "$tmp/vk.json" >/dev/null 2>"$tmp/vk.err"
  expect "Vulkan run succeeds ($(tail -1 "$tmp/vk.err"))" test $? = 0
  "$fovea" robustness --model "$model" --dataset "$data" --limit 8 --corruptions gaussian_noise,contrast \
    --severities 1 --table cifar10 --device cpu --out "$tmp/cpu.json" >/dev/null 2>&1
  expect "Vulkan errors = CPU errors" test "$(strip "$tmp/vk.json")" = "$(strip "$tmp/cpu.json")"
fi
finish
