#!/usr/bin/env bash
# test_attention_cli.sh: `fovea attention` end to end: the files it writes (summary.json, one PNG per
# layer and head, layer means, rollout, overview) for the bundled Fashion-MNIST model and for the
# fixture model of tests/fixtures/attention; summary.json parses and its per-layer diversity equals
# the PyTorch/numpy fixture's; --json prints the same summary; Vulkan and the CPU executor agree;
# several images write a folder each plus mean.json (checked against the per-image summaries) and
# images.csv; bad input (missing or truncated image, colliding stems, bad model, unwritable or
# file-shaped --out, bad options) fails with one clear message. The statistics themselves are checked in tests/test_attention_probe.c.
set -u
source "$(dirname "$0")/cli_lib.sh"

fix=tests/fixtures/attention
sample=assets/samples/fmnist-0000-ankle-boot.png
has_py=0
command -v python3 >/dev/null && python3 -c "import json" 2>/dev/null && has_py=1

expect "fovea --help lists attention" bash -c "'$fovea' --help | grep -q '^  attention'"
expect "attention --help" bash -c "'$fovea' attention --help | grep -q 'summary.json'"

# ---- bundled model ------------------------------------------------------------------------------
out=$tmp/fmnist
expect "runs on the bundled model" "$fovea" attention --out "$out" "$sample"
for f in summary.json overview.png rollout.png layer0_head0.png layer5_head2.png layer0_mean.png layer5_mean.png; do
  expect "wrote $f" test -s "$out/$f"
done
expect "18 head maps (6 layers x 3 heads)" test "$(ls "$out" | grep -c '^layer[0-9]*_head[0-9]*\.png$')" = 18
expect "no temporary files left" test -z "$(ls "$out" | grep tmp)"
expect "no TAP maps for a model without TAP" test -z "$(ls "$out" | grep tap)"
expect "PNG signature" bash -c "head -c 8 '$out/overview.png' | od -An -tx1 | grep -q '89 50 4e 47 0d 0a 1a 0a'"
if [ $has_py = 1 ]; then
  expect "summary.json parses, with 6 layers of 3 heads and 49 rollout values" python3 -c "
import json, sys
d = json.load(open(sys.argv[1]))
assert len(d['layers']) == 6 and all(len(l['heads']) == 3 for l in d['layers']), 'shape'
assert len(d['rollout']) == 49 and d['tokens'] == 50 and d['class_token'] is True
for l in d['layers']:
    assert 0 <= l['diversity'] <= 1 and 0 <= l['zeroed_fraction'] <= 1
    for h in l['heads']:
        assert abs(h['distance_pixels'] - 4 * h['distance_patches']) < 1e-4 * (1 + h['distance_pixels'])
        assert 0 < h['top_share'] <= 1 and h['max_weight'] <= h['top_share'] + 1e-6 and len(h['map']) == 49
        assert 0 < sum(h['map']) <= 1 + 1e-5 and h['entropy'] >= 0
" "$out/summary.json"
fi

# --json prints the summary; the CPU executor gives the same numbers
expect "--json on the CPU executor" bash -c "'$fovea' attention --device cpu --json --out '$tmp/cpu' '$sample' > '$tmp/cpu.json'"
if [ $has_py = 1 ]; then
  expect "--json output equals summary.json" cmp "$tmp/cpu.json" "$tmp/cpu/summary.json"
  expect "Vulkan and CPU agree within 1e-4" python3 -c "
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
for la, lb in zip(a['layers'], b['layers']):
    assert abs(la['diversity'] - lb['diversity']) < 1e-4
    for ha, hb in zip(la['heads'], lb['heads']):
        for k in ('entropy', 'distance_patches', 'top_share', 'max_weight', 'diversity'):
            assert abs(ha[k] - hb[k]) < 1e-4, (k, ha[k], hb[k])
        assert max(abs(x - y) for x, y in zip(ha['map'], hb['map'])) < 1e-4
assert max(abs(x - y) for x, y in zip(a['rollout'], b['rollout'])) < 1e-4
" "$out/summary.json" "$tmp/cpu/summary.json"
fi

# ---- fixture model: diversity against the PyTorch/numpy values ------------------------------------
expect "runs on the fixture model" "$fovea" attention --model "$fix/model" --out "$tmp/fix" "$fix/input.png"
if [ $has_py = 1 ]; then
  expect "fixture diversities and rollout match" python3 -c "
import json, sys
d, e = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
for l, x in zip(d['layers'], e['layers']):
    assert abs(l['diversity'] - x['diversity']) < 1e-4, (l['diversity'], x['diversity'])
    assert all(abs(h['diversity'] - y) < 1e-4 for h, y in zip(l['heads'], x['head_diversity']))
assert max(abs(a - b) for a, b in zip(d['rollout'], e['rollout'])) < 1e-4
" "$tmp/fix/summary.json" "$fix/expected.json"
fi
expect "--threshold changes tau" bash -c "'$fovea' attention --device cpu --json --threshold 4 --out '$tmp/th4' '$sample' | grep -q '\"threshold\": 4, \"tau\": 0.08,'"

# ---- TAP model (tools/make_tap_fixtures.py: 28x20 input, 7x5 grid, TAP in blocks 0 and 2, K = 3) ----
tap=tests/fixtures/tap/tap_7x5_mixed
expect "runs on a TAP model" "$fovea" attention --device cpu --model "$tap" --out "$tmp/tap" "$sample"
for f in layer0_tap_scale0.png layer0_tap_scale2.png layer0_tap_argmax.png layer2_tap_argmax.png; do
  expect "wrote $f" test -s "$tmp/tap/$f"
done
expect "no TAP maps for block 1 (no TAP there)" test -z "$(ls "$tmp/tap" | grep '^layer1_tap')"
if [ $has_py = 1 ]; then
  expect "TAP summary: mean weights sum to 1 on TAP blocks only" python3 -c "
import json, sys
d = json.load(open(sys.argv[1]))
assert d['grid'] == [7, 5] and d['tap_scales'] == 3
t = [l.get('tap') for l in d['layers']]
assert t[1] is None and t[0] and t[2]
for x in (t[0], t[2]):
    assert abs(sum(x['mean_weights']) - 1) < 1e-5 and abs(sum(x['argmax_share']) - 1) < 1e-5
" "$tmp/tap/summary.json"
fi

# ---- several images: a folder per image, mean.json, images.csv -------------------------------------
mkdir -p "$tmp/set" && cp assets/samples/fmnist-000[0-4]-*.png "$tmp/set/"
expect "runs on a directory of 5 images" "$fovea" attention --device cpu --out "$tmp/many" "$tmp/set"
for f in mean.json images.csv fmnist-0000-ankle-boot/summary.json fmnist-0000-ankle-boot/overview.png; do
  expect "wrote $f" test -s "$tmp/many/$f"
done
expect "one folder per image" test "$(ls -d "$tmp/many"/*/ | wc -l)" = 5
expect "images.csv: a header and one row per image and layer" test "$(wc -l < "$tmp/many/images.csv")" = 31
expect "no temporary files left" test -z "$(find "$tmp/many" -name "*.tmp-*")"
expect "--no-maps --json prints mean.json and writes no PNG" bash -c \
  "'$fovea' attention --device cpu --no-maps --json --out '$tmp/nomaps' '$tmp/set' > '$tmp/nomaps.json' &&
   cmp '$tmp/nomaps.json' '$tmp/nomaps/mean.json' && test -z \"\$(find '$tmp/nomaps' -name '*.png')\""
if [ $has_py = 1 ]; then
  expect "mean.json is the mean of the per-image summaries; each equals a one-image run" python3 -c "
import json, sys, glob, csv
d = json.load(open(sys.argv[1] + '/mean.json'))
s = [json.load(open(f)) for f in sorted(glob.glob(sys.argv[1] + '/*/summary.json'))]
assert d['images'] == len(s) == 5 and sum(d['predicted'].values()) == 5
for l in range(6):
    for k in ('diversity', 'zeroed_fraction', 'mean_head_diversity'):
        m = sum(x['layers'][l][k] for x in s) / 5
        assert abs(d['layers'][l][k] - m) < 1e-6, (l, k, d['layers'][l][k], m)
    for h in range(3):
        for k in ('entropy', 'distance_pixels', 'top_share', 'max_weight', 'diversity'):
            m = sum(x['layers'][l]['heads'][h][k] for x in s) / 5
            assert abs(d['layers'][l]['heads'][h][k] - m) < 1e-5 * (1 + abs(m)), (l, h, k)
one = json.load(open(sys.argv[2]))  # the one-image run of fmnist-0000 on the CPU executor
mine = [x for x in s if x['image'].endswith('fmnist-0000-ankle-boot.png')][0]
assert [l['diversity'] for l in one['layers']] == [l['diversity'] for l in mine['layers']]
rows = list(csv.DictReader(open(sys.argv[1] + '/images.csv')))
for r in rows:
    x = [x for x in s if x['image'] == r['image']][0]
    assert abs(float(r['diversity']) - x['layers'][int(r['layer'])]['diversity']) < 1e-6
    assert r['label'] == x['prediction']['label']
" "$tmp/many" "$tmp/cpu/summary.json"
fi
mkdir -p "$tmp/dup" && cp "$sample" "$tmp/dup/"
expect_error "two inputs with one stem" "same stem" attention --out "$tmp/e8" "$sample" "$tmp/dup/$(basename "$sample")"
expect "nothing written for colliding stems" test ! -e "$tmp/e8"
mkdir -p "$tmp/badset" && cp "$sample" "$tmp/badset/a.png" && head -c 100 "$sample" > "$tmp/badset/b.png"
expect_error "a truncated image among several" "b.png" attention --out "$tmp/e9" "$tmp/badset"
expect "no mean.json after a failed image" test ! -e "$tmp/e9/mean.json"

# ---- errors ---------------------------------------------------------------------------------------
expect_error "missing image" "no-such.png" attention --out "$tmp/e1" "$tmp/no-such.png"
expect_error "no image" "no image given" attention --out "$tmp/e2"
expect_error "no --out" "out DIR is required" attention "$sample"
expect_error "bad model" "no-model" attention --model "$tmp/no-model" --out "$tmp/e4" "$sample"
echo "not a directory" > "$tmp/file"
expect_error "--out is a file" "not a directory" attention --out "$tmp/file" "$sample"
expect_error "--out under a file" "cannot create directory" attention --out "$tmp/file/sub" "$sample"
expect_error "bad threshold" "threshold needs a positive number" attention --threshold -1 --out "$tmp/e5" "$sample"
expect_error "unknown option" "unknown option" attention --frobnicate --out "$tmp/e6" "$sample"
expect_error "--batch refused" "analyses one image" attention --batch 4 --out "$tmp/e7" "$sample"
if [ "$(id -u)" != 0 ]; then
  mkdir -p "$tmp/ro" && chmod 555 "$tmp/ro"
  expect_error "unwritable --out" "cannot write into directory" attention --out "$tmp/ro" "$sample"
fi

finish
