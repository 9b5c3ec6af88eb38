#!/usr/bin/env bash
# test_corrupt_cli.sh: `fovea corrupt` end to end on small fixture PNGs: the output layout
# OUT/<corruption>/<severity>/<stem>.png, the manifest (seed, table, frost source, device, one
# entry per output with key and source), gray inputs written gray, --format jpeg85 (.jpg files
# that are JPEGs), the same bytes on Vulkan and --device cpu for a deterministic corruption and
# for another batch size, --variant hendrycks (recorded; elastic_transform differs, brightness does
# not), --bench output, and one clear error for an unknown corruption, a bad
# severity, a missing input and an unwritable output directory.
# The pixels themselves are tests/test_corrupt.c's job.
set -u
source "$(dirname "$0")/cli_lib.sh"

rgb=tests/fixtures/jpeg/input_rgb.png
gray=tests/fixtures/jpeg/input_gray.png
in=$tmp/in
mkdir -p "$in"
cp "$rgb" "$in/photo.png"
cp "$gray" "$in/digit.png"

# ---- help ---------------------------------------------------------------------------------------
expect "fovea --help lists corrupt" bash -c "'$fovea' --help | grep -q '^  corrupt'"
expect "corrupt --help names every corruption" bash -c "'$fovea' corrupt --help | grep -q elastic_transform"

# ---- layout and manifest ------------------------------------------------------------------------
out=$tmp/res
"$fovea" corrupt --corruption gaussian_noise,contrast,motion_blur --severity 2-3 --seed 5 --device cpu \
  --out "$out" "$in" >"$tmp/stdout" 2>"$tmp/stderr"
expect "corrupt succeeds ($(tail -1 "$tmp/stderr"))" test $? = 0
for c in gaussian_noise contrast motion_blur; do
  for s in 2 3; do
    for stem in photo digit; do
      expect "$c/$s/$stem.png exists" test -s "$out/$c/$s/$stem.png"
    done
  done
done
expect "no severity 1 folder" test ! -e "$out/gaussian_noise/1"
expect "nothing else was written" test "$(find "$out" -type f | wc -l)" = 13
m=$out/manifest.json
expect "manifest is JSON" /usr/bin/python3 -c "import json,sys; json.load(open(sys.argv[1]))" "$m"
expect "manifest records the seed" grep -q '"seed": 5,' "$m"
expect "manifest records the table" grep -q '"table": "imagenet"' "$m"
expect "manifest records the default variant" grep -q '"variant": "imagecorruptions"' "$m"
expect "manifest records the frost source" grep -q '"frost": "procedural (seed 0)"' "$m"
expect "manifest records the device" grep -q '"device": "cpu"' "$m"
expect "manifest lists 12 outputs" test "$(grep -c '"file": ' "$m")" = 12
expect "manifest output entry" grep -q "\"file\": \"contrast/3/photo.png\", \"corruption\": \"contrast\", \"severity\": 3, \"key\": [0-9]*, \"source\": \"$in/photo.png\"" "$m"
# The gray rule: a gray input stays gray (8-bit gray PNG: colour type 0 at byte 25).
expect "gray input written gray" test "$(od -An -tu1 -j25 -N1 "$out/contrast/2/digit.png" | tr -d ' ')" = 0
expect "RGB input written RGB" test "$(od -An -tu1 -j25 -N1 "$out/contrast/2/photo.png" | tr -d ' ')" = 2

# ---- same bytes for another batch size and on Vulkan --------------------------------------------
"$fovea" corrupt --corruption gaussian_noise,contrast --severity 3 --seed 5 --device cpu --batch 1 \
  --out "$tmp/b1" "$in" >/dev/null 2>&1
expect "batch 1 = batch 16 (noise)" cmp -s "$out/gaussian_noise/3/photo.png" "$tmp/b1/gaussian_noise/3/photo.png"
"$fovea" corrupt --corruption contrast --severity 3 --seed 5 --out "$tmp/vk" "$in" >/dev/null 2>"$tmp/vk.err"
expect "Vulkan run succeeds ($(tail -1 "$tmp/vk.err"))" test $? = 0
expect "Vulkan = CPU for contrast" cmp -s "$out/contrast/3/photo.png" "$tmp/vk/contrast/3/photo.png"
"$fovea" corrupt --corruption gaussian_noise --severity 3 --seed 6 --device cpu --out "$tmp/s6" "$in" >/dev/null 2>&1
expect "another seed, other noise" bash -c "! cmp -s '$out/gaussian_noise/3/photo.png' '$tmp/s6/gaussian_noise/3/photo.png'"

# ---- --variant hendrycks ---------------------------------------------------------------------------
for v in imagecorruptions hendrycks; do
  "$fovea" corrupt --corruption elastic_transform,brightness --severity 3 --variant $v --device cpu \
    --out "$tmp/var-$v" "$in/photo.png" >/dev/null 2>"$tmp/var-$v.err"
  expect "--variant $v succeeds ($(tail -1 "$tmp/var-$v.err"))" test $? = 0
done
expect "manifest records --variant hendrycks" grep -q '"variant": "hendrycks"' "$tmp/var-hendrycks/manifest.json"
expect "hendrycks elastic_transform differs" bash -c \
  "! cmp -s '$tmp/var-hendrycks/elastic_transform/3/photo.png' '$tmp/var-imagecorruptions/elastic_transform/3/photo.png'"
expect "brightness is the same in both variants" cmp -s "$tmp/var-hendrycks/brightness/3/photo.png" \
  "$tmp/var-imagecorruptions/brightness/3/photo.png"

# ---- jpeg85 ---------------------------------------------------------------------------------------
"$fovea" corrupt --corruption brightness --severity 1 --format jpeg85 --device cpu --json --out "$tmp/j" "$in/photo.png" \
  >"$tmp/j.json" 2>/dev/null
expect "jpeg85 succeeds" test $? = 0
expect "jpeg85 writes .jpg" test -s "$tmp/j/brightness/1/photo.jpg"
expect "the .jpg is a JPEG" test "$(od -An -tx1 -N2 "$tmp/j/brightness/1/photo.jpg" | tr -d ' ')" = ffd8
expect "--json summary" grep -q '"outputs": 1, "images": 1' "$tmp/j.json"
expect "manifest says jpeg85" grep -q '"format": "jpeg85"' "$tmp/j/manifest.json"

# ---- --imagenet-preprocess: Resize 256 + CenterCrop 224 first -----------------------------------
"$fovea" corrupt --corruption contrast --severity 1 --imagenet-preprocess --device cpu --out "$tmp/pre" "$in/photo.png" \
  >/dev/null 2>"$tmp/pre.err"
expect "--imagenet-preprocess succeeds ($(tail -1 "$tmp/pre.err"))" test $? = 0
expect "--imagenet-preprocess gives 224x224" test "$(od -An -tu1 -j16 -N8 "$tmp/pre/contrast/1/photo.png" | tr -s ' ')" = " 0 0 0 224 0 0 0 224"
expect "no size note at 224" bash -c "! grep -q 'note: images are' '$tmp/pre.err'"
expect "a size note otherwise" grep -q "note: images are" "$tmp/stderr"

# ---- bench ------------------------------------------------------------------------------------------
"$fovea" corrupt --bench --corruption brightness,zoom_blur --severity 1-2 --device cpu "$in/photo.png" >"$tmp/bench" 2>&1
expect "bench succeeds" test $? = 0
expect "bench prints a total" grep -q "^total: 4 corruptions" "$tmp/bench"

# ---- errors -----------------------------------------------------------------------------------------
expect_error "unknown corruption" "unknown corruption 'blurry'" corrupt --corruption blurry --severity 1 --out "$tmp/e" "$in"
expect_error "bad severity" "--severity: '6'" corrupt --corruption contrast --severity 6 --out "$tmp/e" "$in"
expect_error "bad severity range" "--severity: '4-2'" corrupt --corruption contrast --severity 4-2 --out "$tmp/e" "$in"
expect_error "missing --out" "--out is required" corrupt --corruption contrast --severity 1 "$in"
expect_error "missing input" "nothing.png" corrupt --corruption contrast --severity 1 --device cpu --out "$tmp/e" "$tmp/nothing.png"
touch "$tmp/file"
expect_error "unwritable out" "$tmp/file" corrupt --corruption contrast --severity 1 --device cpu --out "$tmp/file/sub" "$in"
cp "$rgb" "$tmp/photo.png"
expect_error "colliding stems" "same stem 'photo'" corrupt --corruption contrast --severity 1 --device cpu --out "$tmp/e" "$in" "$tmp/photo.png"
expect_error "missing frost textures" "frost1.png" corrupt --corruption frost --severity 1 --frost-dir "$tmp/nofrost" --out "$tmp/f" "$in"
expect "nothing written for missing frost textures" test ! -e "$tmp/f"
expect_error "bad table" "--table: 'imagenet21k'" corrupt --corruption contrast --severity 1 --table imagenet21k --out "$tmp/e" "$in"
expect_error "unknown variant" "--variant: 'imagenet-c' is not imagecorruptions or hendrycks" corrupt \
  --corruption contrast --severity 1 --variant imagenet-c --out "$tmp/e" "$in"
finish
