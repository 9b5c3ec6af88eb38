#!/usr/bin/env bash
# test_video_filter.sh: `fovea filter` end to end on clips made here from the 20 Fashion-MNIST test
# images in assets/samples (known labels) with irregular timestamps and a PCM audio track, by
# tests/test_video's `make` (FFmpeg's libraries; the ffmpeg command is not needed). Files are read
# back with `test_video probe`, which decodes with the libraries independently of video/. Checks:
# per-frame labels equal `fovea classify` on the same pixels (and mostly the true labels), --select
# keeps exactly the right frames with their timestamps and pixels, --every, --min-prob, timestamps
# survive in .mkv, .mp4, .webm and PNG sequences, the lossless round trip is bit-exact with audio
# copied, --corrupt is deterministic per seed, one run on Vulkan agrees with the CPU executor,
# damaged and truncated inputs are handled, and bad input fails with one message and leaves no
# file behind.
set -u
source "$(dirname "$0")/cli_lib.sh"
tool=$(dirname "$fovea")/tests/test_video
if [ ! -x "$tool" ]; then
  echo "FAIL: the clip tool $tool is not built" >&2
  exit 1
fi

mkdir -p "$tmp/pngs" "$tmp/o"
"$tool" make "$tmp/clip.mkv" 20 28 28 ffv1 audio pngs="$tmp/pngs" labels="$tmp/true.txt" ||
  { echo "FAIL: cannot make the test clip" >&2; exit 1; }
"$tool" probe "$tmp/clip.mkv" >"$tmp/clip.probe"
# frame lines of a probe: "index pts pts_time hash size format"
frames() { grep -E '^[0-9]+ ' "$1"; }
top1() { sed 's/.*"top": \[{"index": \([0-9]*\),.*/\1/' "$1"; }
leftovers() { find "$tmp/o" "$tmp" -maxdepth 1 -name '*fovea*' | wc -l; }

# ---- labels on the CPU executor, lossless output ----------------------------------------------
"$fovea" filter "$tmp/clip.mkv" "$tmp/o/all.mkv" --lossless --labels "$tmp/all.jsonl" --device cpu \
  >"$tmp/sum" 2>"$tmp/err"
rc=$?
expect "filter --lossless on the CPU succeeds ($(cat "$tmp/err"))" test $rc = 0
expect "summary: 20 read, 20 written, 0 undecodable" grep -q '20 frames read, 20 written, 0 dropped as undecodable' "$tmp/sum"
expect "one JSON line per frame" test "$(wc -l <"$tmp/all.jsonl")" = 20
expect "frames numbered 0..19 in order" test "$(sed 's/{"frame": \([0-9]*\),.*/\1/' "$tmp/all.jsonl" | tr '\n' ' ')" = \
  "$(seq 0 19 | tr '\n' ' ')"
expect "pts_time is each frame's timestamp" test "$(sed 's/.*"pts_time": \([0-9.]*\),.*/\1/' "$tmp/all.jsonl")" = \
  "$(frames "$tmp/clip.probe" | awk '{print $3}')"
expect "5 labels per frame" test "$(grep -o '"index": ' "$tmp/all.jsonl" | wc -l)" = 100
"$fovea" classify --json --device cpu "$tmp/pngs" >"$tmp/classify.json" 2>/dev/null
expect "top-1 labels equal fovea classify on the same frames as PNG" test "$(top1 "$tmp/all.jsonl")" = "$(top1 "$tmp/classify.json")"
prob() { sed 's/.*"top": \[{"index": [0-9]*, "label": "[^"]*", "prob": \([0-9.e-]*\)}.*/\1/' "$1"; }
expect "top-1 probabilities equal fovea classify's" test "$(prob "$tmp/all.jsonl")" = "$(prob "$tmp/classify.json")"
right=$(paste -d' ' <(top1 "$tmp/all.jsonl") "$tmp/true.txt" | awk '$1 == $2' | wc -l)
expect "at least 16 of 20 frames get their true Fashion-MNIST label ($right)" test "$right" -ge 16
"$tool" probe "$tmp/o/all.mkv" >"$tmp/all.probe"
expect "lossless round trip: frames, timestamps, pixels and audio identical" cmp -s "$tmp/clip.probe" "$tmp/all.probe"
expect "no temporary files left" test "$(leftovers)" = 0

# The progress line with an ETA appears on a terminal only (script(1) provides one).
if command -v script >/dev/null; then
  "$tool" make "$tmp/long.mkv" 150 28 28 ffv1
  script -qc "'$fovea' filter '$tmp/long.mkv' '$tmp/o/long.mkv' --device cpu --batch 2" /dev/null >"$tmp/tty" 2>&1
  expect "progress with position, duration and ETA on a terminal" grep -q '/[0-9.]* s, [0-9]* frames, .* fps, ETA [0-9]*:[0-9][0-9]' "$tmp/tty"
  expect "no progress line without a terminal" bash -c "! grep -q ETA '$tmp/err'"
fi

# ---- --select and --min-prob ------------------------------------------------------------------
label_of() { sed -n "$(($1 + 1))p" "$tmp/all.jsonl" | sed 's/.*"top": \[{"index": [0-9]*, "label": "\([^"]*\)".*/\1/'; }
a=$(label_of 0)
b=$(label_of 3)
awk -v a="$a" -v b="$b" -F'"label": "' '{split($2, x, "\""); if (x[1] == a || x[1] == b) print NR - 1}' \
  "$tmp/all.jsonl" >"$tmp/want"
"$fovea" filter "$tmp/clip.mkv" "$tmp/o/sel.mkv" --lossless --select "$a,$b" --labels "$tmp/sel.jsonl" \
  --device cpu >"$tmp/sum" 2>"$tmp/err"
rc=$?
expect "filter --select '$a,$b' succeeds ($(cat "$tmp/err"))" test $rc = 0
"$tool" probe "$tmp/o/sel.mkv" >"$tmp/sel.probe"
expect "--select writes exactly the frames labelled $a or $b ($(tr '\n' ' ' <"$tmp/want"))" \
  test "$(frames "$tmp/sel.probe" | awk '{print $3, $4}')" = \
  "$(awk 'NR == FNR {w[$1 + 1] = 1; next} w[FNR]' "$tmp/want" <(frames "$tmp/clip.probe") | awk '{print $3, $4}')"
expect "labels still cover every frame, with written flags" test "$(grep -c '"written": true' "$tmp/sel.jsonl")" = "$(wc -l <"$tmp/want")"
expect "summary counts the unselected" grep -q "$(wc -l <"$tmp/want" | tr -d ' ') written.*$((20 - $(wc -l <"$tmp/want"))) not selected" "$tmp/sum"
"$fovea" filter "$tmp/clip.mkv" "$tmp/o/idx.mkv" --lossless --select "$(top1 "$tmp/all.jsonl" | head -1)" --device cpu \
  >/dev/null 2>&1
expect "--select by class index" test "$(frames <("$tool" probe "$tmp/o/idx.mkv") | wc -l)" = \
  "$(top1 "$tmp/all.jsonl" | grep -cx "$(top1 "$tmp/all.jsonl" | head -1)")"
want_p=$(prob "$tmp/all.jsonl" | awk '$1 >= 0.9' | wc -l)
"$fovea" filter "$tmp/clip.mkv" "$tmp/o/p.mkv" --lossless --min-prob 0.9 --device cpu >/dev/null 2>&1
expect "--min-prob 0.9 keeps the $want_p confident frames" test "$(frames <("$tool" probe "$tmp/o/p.mkv") | wc -l)" = "$want_p"

# ---- --every -----------------------------------------------------------------------------------
"$fovea" filter "$tmp/clip.mkv" "$tmp/o/every.mkv" --lossless --every 3 --labels "$tmp/every.jsonl" --device cpu \
  >"$tmp/sum" 2>/dev/null
expect "--every 3 labels frames 0, 3, ..., 18" test "$(sed 's/{"frame": \([0-9]*\),.*/\1/' "$tmp/every.jsonl" | tr '\n' ' ')" = \
  "0 3 6 9 12 15 18 "
expect "--every 3 writes those frames with their timestamps" test "$(frames <("$tool" probe "$tmp/o/every.mkv") | awk '{print $3}')" = \
  "$(frames "$tmp/clip.probe" | awk 'NR % 3 == 1 {print $3}')"
expect "summary counts the skipped" grep -q '13 skipped by --every' "$tmp/sum"

# ---- Vulkan (lavapipe), H.264 .mp4, VP9 .webm, PNG sequence -----------------------------------
"$fovea" filter "$tmp/clip.mkv" "$tmp/o/vk.mp4" --labels "$tmp/vk.jsonl" >"$tmp/sum" 2>"$tmp/err"
rc=$?
expect "filter on Vulkan to .mp4 succeeds ($(grep error "$tmp/err"))" test $rc = 0
expect "Vulkan and the CPU executor give the same top-1 labels" test "$(top1 "$tmp/vk.jsonl")" = "$(top1 "$tmp/all.jsonl")"
"$tool" probe "$tmp/o/vk.mp4" >"$tmp/vk.probe"
expect ".mp4 keeps the 20 irregular timestamps" test "$(frames "$tmp/vk.probe" | awk '{print $3}')" = \
  "$(frames "$tmp/clip.probe" | awk '{print $3}')"
expect ".mp4 is H.264 yuv420p" test "$(frames "$tmp/vk.probe" | awk '{print $6}' | sort -u)" = yuv420p
expect "PCM audio left out of .mp4 with a note" grep -q 'not copied' "$tmp/err"
"$fovea" filter "$tmp/clip.mkv" "$tmp/o/v.webm" --device cpu >/dev/null 2>"$tmp/err"
rc=$?
expect ".webm (VP9) succeeds ($(cat "$tmp/err"))" test $rc = 0
expect ".webm keeps the timestamps" test "$(frames <("$tool" probe "$tmp/o/v.webm") | awk '{print $3}')" = \
  "$(frames "$tmp/clip.probe" | awk '{print $3}')"
"$fovea" filter "$tmp/clip.mkv" "$tmp/o/h.mkv" --device cpu >/dev/null 2>&1
expect ".mkv (H.264) keeps the audio" test "$(grep '^audio' <("$tool" probe "$tmp/o/h.mkv"))" = "$(grep '^audio' "$tmp/clip.probe")"
mkdir "$tmp/o/seq"
"$fovea" filter "$tmp/clip.mkv" "$tmp/o/seq/f_%03d.png" --select "$a" --device cpu >/dev/null 2>"$tmp/err"
rc=$?
expect "PNG sequence succeeds ($(cat "$tmp/err"))" test $rc = 0
expect "PNG files numbered by input frame index" test "$(cd "$tmp/o/seq" && ls f_*.png | tr '\n' ' ')" = \
  "$(awk -v a="$a" -F'"label": "' '{split($2, x, "\""); if (x[1] == a) printf "f_%03d.png ", NR - 1}' "$tmp/all.jsonl")"
expect "PNG frames are the input's pixels" cmp -s "$tmp/o/seq/f_000.png" "$tmp/pngs/frame_000.png"
expect "the timestamps file lists index and pts" test "$(grep -v '^#' "$tmp/o/seq/f_timestamps.txt" | awk '{print $1}' | tr '\n' ' ')" = \
  "$(awk -v a="$a" -F'"label": "' '{split($2, x, "\""); if (x[1] == a) printf "%d ", NR - 1}' "$tmp/all.jsonl")"

# ---- --corrupt ---------------------------------------------------------------------------------
"$fovea" filter "$tmp/clip.mkv" "$tmp/o/c1.mkv" --lossless --corrupt gaussian_noise:3 --seed 7 --labels "$tmp/c1.jsonl" \
  --device cpu >/dev/null 2>"$tmp/err"
rc=$?
expect "--corrupt succeeds ($(cat "$tmp/err"))" test $rc = 0
"$fovea" filter "$tmp/clip.mkv" "$tmp/o/c2.mkv" --lossless --corrupt gaussian_noise:3 --seed 7 --batch 3 --device cpu \
  >/dev/null 2>&1
"$fovea" filter "$tmp/clip.mkv" "$tmp/o/c3.mkv" --lossless --corrupt gaussian_noise:3 --seed 8 --device cpu >/dev/null 2>&1
"$tool" probe "$tmp/o/c1.mkv" >"$tmp/c1.probe"
expect "corrupted output keeps the timestamps" test "$(frames "$tmp/c1.probe" | awk '{print $3}')" = "$(frames "$tmp/clip.probe" | awk '{print $3}')"
expect "corrupted frames differ from the input" test "$(frames "$tmp/c1.probe" | awk '{print $4}' | sort)" != \
  "$(frames "$tmp/clip.probe" | awk '{print $4}' | sort)"
expect "same seed, other batch size: identical frames" cmp -s "$tmp/c1.probe" <("$tool" probe "$tmp/o/c2.mkv")
expect "another seed: other frames" test "$(frames "$tmp/c1.probe")" != "$(frames <("$tool" probe "$tmp/o/c3.mkv"))"
mkdir "$tmp/o/cseq"
"$fovea" filter "$tmp/clip.mkv" "$tmp/o/cseq/%02d.png" --corrupt gaussian_noise:3 --seed 7 --device cpu >/dev/null 2>&1
"$fovea" classify --json --device cpu "$tmp/o/cseq" >"$tmp/cclass.json" 2>/dev/null
expect "labels of corrupted frames equal fovea classify on the written corrupted frames" \
  test "$(top1 "$tmp/c1.jsonl")" = "$(top1 "$tmp/cclass.json")"

# ---- damaged inputs ----------------------------------------------------------------------------
size=$(stat -c %s "$tmp/clip.mkv")
head -c $((size * 4 / 10)) "$tmp/clip.mkv" >"$tmp/cut.mkv"
"$fovea" filter "$tmp/cut.mkv" "$tmp/o/cut.mkv" --lossless --device cpu >"$tmp/sum" 2>"$tmp/err"
rc=$?
expect "a truncated .mkv is filtered up to the damage (rc 0)" test $rc = 0
expect "the truncation is reported with a frame index" grep -q '^fovea: warning: .*cut.mkv: frame [0-9]*: ' "$tmp/err"
expect "summary counts the damage" grep -q ', 1 dropped as undecodable' "$tmp/sum"
expect "the frames before the damage are written" test -s "$tmp/o/cut.mkv"
"$tool" make "$tmp/x264.mp4" 20 28 28 x264
size=$(stat -c %s "$tmp/x264.mp4")
head -c $((size / 2)) "$tmp/x264.mp4" >"$tmp/cut.mp4"
expect_error "a truncated .mp4 (no index) fails" "cut.mp4" filter "$tmp/cut.mp4" "$tmp/o/cutmp4.mkv" --device cpu
expect "no output for a failed run" test ! -e "$tmp/o/cutmp4.mkv"

# ---- bad input ---------------------------------------------------------------------------------
"$tool" make "$tmp/empty.mkv" 0 28 28 ffv1
expect_error "zero-frame input" "ends before any video frame" filter "$tmp/empty.mkv" "$tmp/o/e.mkv" --device cpu
expect_error "unsupported extension" "unsupported output" filter "$tmp/clip.mkv" "$tmp/o/x.avi" --device cpu
expect_error "JPEG sequence" "unsupported output" filter "$tmp/clip.mkv" "$tmp/o/%d.jpg" --device cpu
expect_error "--lossless .mp4" "lossless" filter "$tmp/clip.mkv" "$tmp/o/l.mp4" --lossless --device cpu
expect_error "missing input" "nothere.mkv" filter "$tmp/nothere.mkv" "$tmp/o/n.mkv" --device cpu
expect_error "missing output directory" "nodir" filter "$tmp/clip.mkv" "$tmp/nodir/n.mkv" --device cpu
expect_error "unknown label" "Nope" filter "$tmp/clip.mkv" "$tmp/o/s.mkv" --select Nope --device cpu
expect_error "unknown corruption" "bogus" filter "$tmp/clip.mkv" "$tmp/o/s.mkv" --corrupt bogus:3 --device cpu
expect_error "bad severity" "severity" filter "$tmp/clip.mkv" "$tmp/o/s.mkv" --corrupt gaussian_noise:9 --device cpu
expect_error "nothing selected" "none of the 20" filter "$tmp/clip.mkv" "$tmp/o/s.mkv" --min-prob 1 --select "$a" --device cpu
expect_error "one INPUT and one OUTPUT" "OUTPUT" filter "$tmp/clip.mkv" --device cpu
for f in e.mkv x.avi l.mp4 n.mkv s.mkv; do expect "no $f after a failure" test ! -e "$tmp/o/$f"; done
expect "no temporary files left after failures" test "$(leftovers)" = 0
expect "fovea --help lists filter" bash -c "'$fovea' --help | grep -q '^  filter'"
finish
