#!/usr/bin/python3
"""Small-scale replication of TAP + ADL on Fashion-MNIST (issue 6; protocol in
shared/design/methods/tap_adl.md section 9, departures listed in the report).

Trains a baseline ViT and a TAP+ADL ViT with the same budget for each seed, then for every
model: `fovea eval` (clean accuracy, cross-checked against PyTorch's), `fovea robustness` over
all 19 corruptions x 5 severities with one fixed corruption seed (so every model sees the same
corrupted images), and `fovea attention` on the first test images (attention diversity per
layer). Writes the report (default docs/results/tap_adl.md) with the numbers, the decision rule
of section 9.7 applied as fixed beforehand, and the exact commands.

Every stage is resumable: training resumes from its checkpoint, robustness from its cell store,
and finished stages are skipped, so the script can be killed and re-run.

Departures from section 9 (to fit 2 CPU cores): 28x28 gray input (Fovea's gray rule replicates
it to RGB for the corruptions and converts back), patch 4 (7x7 grid), the whole 60k training
set (no validation split; the last epoch is used, as the protocol says), the `cifar10` table at
28 px (Fovea warns that the table is made for 32 px).

Usage:
  /usr/bin/python3 tools/replicate_tap_adl.py                  # the full protocol
  /usr/bin/python3 tools/replicate_tap_adl.py --smoke          # minutes: tiny data, 1 epoch
"""

import argparse
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAIN = ["gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur", "glass_blur",
        "motion_blur", "zoom_blur", "snow", "frost", "fog", "brightness", "contrast",
        "elastic_transform", "pixelate", "jpeg_compression"]
EXTRA = ["speckle_noise", "gaussian_blur", "spatter", "saturate"]
ARMS = {"base": [], "tapadl": ["--tap-scales", "4", "--adl-weight", "1.0"]}


def run(cmd, log=None, **kw):
    print("+ " + " ".join(cmd), file=sys.stderr, flush=True)
    if log:
        with open(log, "a") as f:
            return subprocess.run(cmd, check=True, stdout=f, stderr=subprocess.STDOUT, **kw)
    return subprocess.run(cmd, check=True, **kw)


def train(args, arm, seed, out):
    if os.path.exists(os.path.join(out, "model.safetensors")):
        return
    cmd = ["/usr/bin/python3", os.path.join(REPO, "tools", "train_vit.py"),
           "--embed-dim", "64", "--depth", "4", "--heads", "2", "--mlp-ratio", "4",
           "--patch", "4", "--epochs", str(args.epochs), "--lr", "1e-3",
           "--warmup-epochs", "1", "--label-smoothing", "0.1", "--crop-pad", "2",
           "--hflip", "1", "--batch", "128", "--threads", "1", "--eval-every", "5",
           "--seed", str(seed), "--arch-name", "vit_fmnist_tiny_patch4_28",
           "--out", out, "--checkpoint", out + ".ckpt.pt", "--resume",
           "--note", "TAP+ADL replication, arm %s, seed %d" % (arm, seed)] + ARMS[arm]
    if args.limit:
        cmd += ["--limit", str(args.limit)]
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    run(cmd, log=out + ".log", env=env)


def fovea(args, *a):
    return [os.path.join(REPO, args.build, "fovea")] + list(a)


def evaluate(args, model):
    path = model + ".eval.json"
    if not os.path.exists(path):
        cmd = fovea(args, "eval", "--model", model, "--dataset", args.dataset, "--json",
                    "--device", args.device)
        if args.limit:
            cmd += ["--limit", str(args.limit)]
        out = run(cmd, capture_output=True, text=True).stdout
        with open(path + ".tmp", "w") as f:
            f.write(out)
        os.replace(path + ".tmp", path)
    with open(path) as f:
        return json.load(f)


def robustness(args, model):
    path = model + ".robustness.json"
    if not os.path.exists(path):
        cmd = fovea(args, "robustness", "--model", model, "--dataset", args.dataset,
                    "--corruptions", "all", "--table", "cifar10", "--seed", str(args.corruption_seed),
                    "--baseline", "none", "--device", args.device, "--out", path + ".part.json")
        if args.robust_limit:
            cmd += ["--limit", str(args.robust_limit)]
        if os.path.isdir(path + ".part.json.cells"):
            cmd.append("--resume")
        run(cmd, log=model + ".robustness.log")
        for ext in (".csv", ".svg"):  # fovea robustness writes these beside its JSON
            os.replace(path + ".part" + ext, model + ".robustness" + ext)
        os.replace(path + ".part.json", path)
    with open(path) as f:
        return json.load(f)


def test_images(args):
    """The first N Fashion-MNIST test images as PNG (for fovea attention)."""
    d = os.path.join(args.work, "attention-images")
    if os.path.isdir(d) and len(os.listdir(d)) >= args.attention_images:
        return sorted(os.path.join(d, f) for f in os.listdir(d))[:args.attention_images]
    sys.path.insert(0, os.path.join(REPO, "tools"))
    import train_vit
    from PIL import Image
    _, _, te_x, _ = train_vit.load_fmnist(args.dataset)
    os.makedirs(d, exist_ok=True)
    for i in range(args.attention_images):
        Image.fromarray(te_x[i], mode="L").save(os.path.join(d, "test-%05d.png" % i))
    return sorted(os.path.join(d, f) for f in os.listdir(d))[:args.attention_images]


def corrupted_images(args, clean):
    """The first N clean test images under the 15 main corruptions at severity 3 (spec 9.6), made
    once by `fovea corrupt` with the robustness run's table and seed, so every model sees the
    same pixels."""
    d = os.path.join(args.work, "attention-images-s3")
    flat = d + "-flat"  # <corruption>-<stem>.png: fovea attention names its folders by stem
    if not os.path.isdir(flat):
        run(fovea(args, "corrupt", "--corruption", "main", "--severity", "3", "--table", "cifar10",
                  "--seed", str(args.corruption_seed), "--device", args.device, "--out", d)
            + clean[:args.attention_corrupted], capture_output=True)
        os.makedirs(flat + ".tmp", exist_ok=True)
        for c in MAIN:
            for f in os.listdir(os.path.join(d, c, "3")):
                shutil.copyfile(os.path.join(d, c, "3", f), os.path.join(flat + ".tmp", c + "-" + f))
        os.replace(flat + ".tmp", flat)
    return sorted(os.path.join(flat, f) for f in os.listdir(flat))


def diversity(args, model, images, tag=""):
    """Mean ADL diversity per layer over the images (fovea attention's mean.json)."""
    path = model + ".diversity%s.json" % tag
    if not os.path.exists(path):
        out = run(fovea(args, "attention", "--model", model, "--device", args.device, "--no-maps",
                        "--json", "--out", model + ".attention" + tag) + images,
                  capture_output=True, text=True).stdout
        mean = json.loads(out)
        assert mean["images"] == len(images), (mean["images"], len(images))
        res = {"images": len(images), "diversity": [l["diversity"] for l in mean["layers"]],
               "zeroed_fraction": [l["zeroed_fraction"] for l in mean["layers"]]}
        with open(path + ".tmp", "w") as f:
            json.dump(res, f)
        os.replace(path + ".tmp", path)
    with open(path) as f:
        return json.load(f)


def mean_sd(xs):
    return statistics.mean(xs), (statistics.stdev(xs) if len(xs) > 1 else 0.0)


def report(args, results, commands):
    seeds, arms = args.seeds, list(ARMS)

    def err(arm, c, s):  # mean over seeds of E_{c,s}
        return statistics.mean(results[arm][seed]["rob"]["errors"][c][s] for seed in seeds)

    def clean(arm):
        return statistics.mean(results[arm][seed]["rob"]["clean_error"] for seed in seeds)

    def mce_u(arm, seed=None):
        pick = [seed] if seed is not None else seeds
        return 100 * statistics.mean(results[arm][sd]["rob"]["errors"][c][s]
                                     for sd in pick for c in MAIN for s in range(5))

    ce = {arm: {c: sum(err(arm, c, s) for s in range(5)) / sum(err("base", c, s) for s in range(5))
                for c in MAIN} for arm in arms}
    rce = {}
    for arm in arms:
        rce[arm] = {}
        for c in MAIN:
            den = sum(err("base", c, s) - clean("base") for s in range(5))
            num = sum(err(arm, c, s) - clean(arm) for s in range(5))
            rce[arm][c] = num / den if den else float("nan")
    lines = ["# TAP + ADL at small scale on Fashion-MNIST", "",
             "Written by `tools/replicate_tap_adl.py` on %s. Protocol: "
             "`shared/design/methods/tap_adl.md` section 9; departures are listed below. This "
             "tests the mechanism on a small problem; it cannot confirm or refute the ImageNet "
             "claim." % time.strftime("%Y-%m-%d"), ""]
    if args.smoke:
        lines += ["**SMOKE RUN** (tiny data, 1 epoch): the numbers below only show that the "
                  "pipeline works; they say nothing about TAP or ADL.", ""]
    def layers(arm, key, stat="diversity"):  # per layer, mean over seeds
        return [statistics.mean(results[arm][s][key][stat][l] for s in seeds)
                for l in range(len(results[arm][seeds[0]][key][stat]))]

    lines += ["| arm | clean err %% (mean ± sd) | mCE_u | mCE_b | rmCE_b | extras mean err %% | "
              "diversity L1..L%d, clean | same, severity 3 |" % len(layers("base", "div")),
              "|---|---|---|---|---|---|---|---|"]
    for arm in arms:
        m, sd = mean_sd([100 * results[arm][s]["rob"]["clean_error"] for s in seeds])
        ext = 100 * statistics.mean(err(arm, c, s) for c in EXTRA for s in range(5))
        rm = 100 * statistics.mean(rce[arm].values())
        lines.append("| %s | %.2f ± %.2f | %.2f | %.1f | %s | %.2f | %s | %s |" % (
            arm, m, sd, mce_u(arm), 100 * statistics.mean(ce[arm].values()),
            "n/a" if math.isnan(rm) else "%.1f" % rm, ext,
            " ".join("%.3f" % d for d in layers(arm, "div")),
            " ".join("%.3f" % d for d in layers(arm, "div_s3"))))
    lines += ["", "Diversity is the ADL statistic (docs/attention.md): 1 − mean cosine between each "
              "query's thresholded attention row and the layer's thresholded mean row. A row whose "
              "weights all fall under the threshold 2/N (near-uniform attention) is zeroed and "
              "counts as cosine 0, i.e. diversity 1, so read it with the share of zeroed rows:", "",
              "| arm | zeroed rows L1..L%d, clean | same, severity 3 |" % len(layers("base", "div")),
              "|---|---|---|"]
    for arm in arms:
        lines.append("| %s | %s | %s |" % (
            arm, " ".join("%.3f" % d for d in layers(arm, "div", "zeroed_fraction")),
            " ".join("%.3f" % d for d in layers(arm, "div_s3", "zeroed_fraction"))))
    lines += ["", "Per seed (paired): Δ = mCE_u(tapadl) − mCE_u(base)", "",
              "| seed | clean err base % | clean err tapadl % | PyTorch top-1 base / tapadl | "
              "mCE_u base | mCE_u tapadl | Δ | fovea eval top-1 base / tapadl | training min base / "
              "tapadl |", "|---|---|---|---|---|---|---|---|---|"]
    deltas = []
    for s in seeds:
        d = mce_u("tapadl", s) - mce_u("base", s)
        deltas.append(d)
        lines.append("| %d | %.2f | %.2f | %.4f / %.4f | %.2f | %.2f | %+.2f | %.4f / %.4f | "
                     "%.1f / %.1f |" % (
                         s, 100 * results["base"][s]["rob"]["clean_error"],
                         100 * results["tapadl"][s]["rob"]["clean_error"],
                         results["base"][s]["torch_top1"], results["tapadl"][s]["torch_top1"],
                         mce_u("base", s), mce_u("tapadl", s), d,
                         results["base"][s]["eval"]["top1"], results["tapadl"][s]["eval"]["top1"],
                         results["base"][s]["train_min"], results["tapadl"][s]["train_min"]))
    lines += ["", "Per corruption: error % by severity 1..5 (mean over seeds), CE relative to base",
              "", "| corruption | base | tapadl | CE_c(tapadl) | rCE_c(tapadl) |", "|---|---|---|---|---|"]
    for c in MAIN + EXTRA:
        fmt = lambda arm: " ".join("%.1f" % (100 * err(arm, c, s)) for s in range(5))
        cec, rcec = ce["tapadl"].get(c), rce["tapadl"].get(c)
        lines.append("| %s%s | %s | %s | %s | %s |" % (
            c, " (extra)" if c in EXTRA else "", fmt("base"), fmt("tapadl"),
            "%.3f" % cec if cec else "–", "%.3f" % rcec if rcec is not None else "–"))
    lines += ["", "rCE_c divides degradations (error minus the model's clean error, summed over "
              "severities): for corruptions that barely degrade either model the ratio is of small "
              "numbers and swings widely, which moves rmCE_b, a plain mean of these ratios."]
    better = [c for c in MAIN if ce["tapadl"][c] < 1]
    worse = [c for c in MAIN if ce["tapadl"][c] > 1]
    lines += ["", "CE_c(tapadl) < 1 (TAP+ADL lower error than base) on %d of %d main corruptions: %s. "
              "Higher on %d: %s." % (len(better), len(MAIN), ", ".join(better) or "none", len(worse),
                                     ", ".join(worse) or "none")]
    # Decision rule, section 9.7 (fixed before running).
    div_b, div_t = layers("base", "div"), layers("tapadl", "div")
    c1 = 100 * statistics.mean(ce["tapadl"].values()) <= 98 and all(d < 0 for d in deltas)
    c2 = clean("tapadl") <= clean("base") + 0.003
    c3 = sum(t > b for t, b in zip(div_t, div_b)) >= math.ceil(0.75 * len(div_b))
    verdict = "directionally replicated at small scale" if c1 and c2 and c3 else \
        "not replicated at this scale"
    lines += ["", "## Decision (rule of tap_adl.md 9.7, fixed before running)", "",
              "- mCE_b(tapadl) ≤ 98 and Δ < 0 for every seed: **%s**" % ("yes" if c1 else "no"),
              "- clean error of tapadl ≤ base + 0.3 pt: **%s**" % ("yes" if c2 else "no"),
              "- diversity (clean) of tapadl higher than base in at least 3 of 4 layers: **%s**" %
              ("yes" if c3 else "no"), "", "Verdict: **%s**." % verdict, "",
              "## Departures from the protocol", "",
              "- 28×28 gray inputs and patch 4 (a 7×7 token grid), not 32×32 RGB; the corruptions "
              "replicate gray to RGB and convert back with PIL's L weights (Fovea's gray rule).",
              "- %d seeds (the protocol asks for 3), to fit the machine." % len(seeds),
              "- Training on all 60,000 training images (no validation split; the last epoch is "
              "used, as the protocol says).",
              "- Corruptions generated in memory by `fovea robustness` with one fixed seed (%d), "
              "table `cifar10` at 28 px; frost uses Fovea's procedural textures, so frost numbers "
              "are not comparable with published ones." % args.corruption_seed,
              "- Clean and corruption errors over the %s of the test set per cell (the same "
              "images in every cell and for every model); the PyTorch top-1 column is over all "
              "10,000." % ("first %d images" % args.robust_limit
                                                     if args.robust_limit else "10,000 images"),
              "- Training minutes are wall time on the 2 shared cores (two runs in parallel, "
              "at times beside other jobs), not a controlled cost comparison. Side by side on the "
              "same machine a TAP+ADL epoch took about 310 s and a baseline epoch about 100 s.",
              "- The engine cross-check is on the clean test set (`fovea eval` against PyTorch's "
              "top-1); the corrupted sets are generated by the engine, with no PyTorch run on them.",
              "- Attention diversity: mean over the first %d test images (clean), and over the "
              "first %d of them under each of the 15 main corruptions at severity 3 "
              "(`fovea corrupt`, same table and seed)." % (args.attention_images,
                                                           args.attention_corrupted), "",
              "## Commands", "", "```sh"] + commands + ["```", "",
              "Environment: %s, Python %s, torch %s; device `%s`." % (
                  platform.platform(), platform.python_version(), args.torch_version, args.device)]
    os.makedirs(os.path.dirname(os.path.abspath(args.report)), exist_ok=True)
    with open(args.report + ".tmp", "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(args.report + ".tmp", args.report)
    print("wrote %s: %s" % (args.report, verdict))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", default="0,1")
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--work", default=os.path.join(REPO, "tools", ".cache", "tapadl"))
    p.add_argument("--build", default="build")
    p.add_argument("--dataset", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--device", default="cpu")
    p.add_argument("--corruption-seed", type=int, default=0)
    p.add_argument("--robust-limit", type=int, default=0, help="test images per cell (0 = all)")
    p.add_argument("--attention-images", type=int, default=100)
    p.add_argument("--attention-corrupted", type=int, default=20,
                   help="of those, how many go through the 15 corruptions at severity 3")
    p.add_argument("--limit", type=int, default=0, help="train/test images (smoke runs)")
    p.add_argument("--report", default=os.path.join(REPO, "docs", "results", "tap_adl.md"))
    p.add_argument("--smoke", action="store_true",
                   help="tiny run to check the pipeline: 1 epoch on 512 images, 64 per cell")
    args = p.parse_args()
    args.seeds = [int(s) for s in args.seeds.split(",")]
    if args.smoke:
        args.epochs, args.limit, args.robust_limit, args.attention_images = 1, 512, 64, 4
        args.attention_corrupted = 2
        args.work = os.path.join(REPO, "tools", ".cache", "tapadl-smoke")
        args.report = os.path.join(args.work, "tap_adl.md")
    import torch
    args.torch_version = torch.__version__
    os.makedirs(args.work, exist_ok=True)
    images = images_s3 = None
    results = {arm: {} for arm in ARMS}
    for seed in args.seeds:
        for arm in ARMS:
            out = os.path.join(args.work, "%s-s%d" % (arm, seed))
            train(args, arm, seed, out)
    for seed in args.seeds:
        for arm in ARMS:
            out = os.path.join(args.work, "%s-s%d" % (arm, seed))
            with open(os.path.join(out, "config.json")) as f:
                training = json.load(f)["training"]
            torch_top1 = training["pytorch_test_top1"]
            ev = evaluate(args, out)
            if not args.limit and abs(ev["top1"] - torch_top1) > 2e-4:
                sys.exit("%s: fovea eval top-1 %.4f differs from PyTorch's %.4f" % (out, ev["top1"],
                                                                                  torch_top1))
            images = images or test_images(args)
            images_s3 = images_s3 or corrupted_images(args, images)
            results[arm][seed] = {"torch_top1": torch_top1, "eval": ev,
                                  "train_min": training["train_time_min"],
                                  "rob": robustness(args, out), "div": diversity(args, out, images),
                                  "div_s3": diversity(args, out, images_s3, "-s3")}
    commands = ["/usr/bin/python3 tools/replicate_tap_adl.py " + " ".join(sys.argv[1:]),
                "# which runs, per arm and seed (see the script for the exact flags):",
                "/usr/bin/python3 tools/train_vit.py --embed-dim 64 --depth 4 --heads 2 "
                "--mlp-ratio 4 --patch 4 --epochs %d --seed S [--tap-scales 4 --adl-weight 1.0] ..."
                % args.epochs,
                "fovea eval --model MODEL --dataset %s --json" % args.dataset,
                "fovea robustness --model MODEL --dataset %s --corruptions all --table cifar10 "
                "--seed %d --baseline none --out MODEL.robustness.json%s" % (
                    args.dataset, args.corruption_seed,
                    " --limit %d" % args.robust_limit if args.robust_limit else ""),
                "fovea corrupt --corruption main --severity 3 --table cifar10 --seed %d "
                "--out S3DIR test-NNNNN.png   # first %d test images, then copied to one folder"
                % (args.corruption_seed, args.attention_corrupted),
                "fovea attention --model MODEL --no-maps --json --out DIR test-NNNNN.png ...   "
                "# first %d test images; mean.json" % args.attention_images,
                "fovea attention --model MODEL --no-maps --json --out DIR S3FLAT/*.png   "
                "# <corruption>-test-NNNNN.png; mean.json"]
    report(args, results, commands)


if __name__ == "__main__":
    main()
