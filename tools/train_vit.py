#!/usr/bin/python3
"""Train a timm-layout Vision Transformer on Fashion-MNIST and export it
as a hub-style folder (config.json + model.safetensors + train_log.txt).

Why plain PyTorch: timm is not installable on the project's machines (only
Debian packages are reachable), so the model below re-implements timm's
``VisionTransformer`` with EXACTLY timm's parameter names, shapes and
semantics (timm 0.9-style, defaults noted inline):

    patch_embed.proj.{weight,bias}   Conv2d(in_chans, E, kernel=stride=patch)
    cls_token                        [1, 1, E]
    pos_embed                        [1, 1 + N, E]   (class token included,
                                                      no_embed_class=False)
    blocks.{i}.norm1.{weight,bias}   LayerNorm(E, eps=1e-6)
    blocks.{i}.attn.qkv.{weight,bias} Linear(E, 3E)  (qkv_bias=True; output
                                                      split as [3, H, D])
    blocks.{i}.attn.proj.{weight,bias} Linear(E, E)
    blocks.{i}.norm2.{weight,bias}   LayerNorm(E, eps=1e-6)
    blocks.{i}.mlp.fc1.{weight,bias} Linear(E, E*mlp_ratio), exact nn.GELU()
    blocks.{i}.mlp.fc2.{weight,bias} Linear(E*mlp_ratio, E)
    norm.{weight,bias}               LayerNorm(E, eps=1e-6)
    head.{weight,bias}               Linear(E, num_classes)

Forward (pre-norm, global_pool='token', no fc_norm, no layer scale):
    x = patch_embed(img).flatten(2).transpose(1, 2)      # [B, N, E]
    x = cat([cls_token, x], 1) + pos_embed               # [B, 1+N, E]
    for blk: x = x + attn(norm1(x)); x = x + mlp(norm2(x))
    x = norm(x); logits = head(x[:, 0])
So a checkpoint written here loads with
``timm.create_model('vit_...', img_size=28, patch_size=4, in_chans=1, ...)``
and ``load_state_dict`` without renaming.

Input preprocessing (recorded in config.json pretrained_cfg):
    x = (uint8_pixel / 255 - mean) / std        (single channel, 28x28)
with mean/std computed over the 60k training images.

Data: the Debian package ``dataset-fashion-mnist`` (IDX files, gzipped, in
/usr/share/datasets/fashion-mnist).  Fashion-MNIST is MIT (Expat) licensed,
Copyright 2017 Zalando SE.

Reproducible: fixed seeds (torch / numpy / python), one data-order and
augmentation generator per epoch seeded from (seed, epoch) so that --resume
continues bit-for-bit the same run; all hyper-parameters are logged and saved.

TAP / ADL (shared/design/methods/tap_adl.md): --tap-scales K puts token-aware
average pooling in every block (weights blocks.N.dilation_predictor.proj.*,
config.json "tap": {"num_scales", "temperature"}); --adl-weight L adds the
attention diversification loss over the TAP blocks' attention maps.

Usage (smoke run):
    /usr/bin/python3 tools/train_vit.py --limit 512 --epochs 1 --out /tmp/vit-smoke
Full run: see assets/models/README.md for the exact command used.
"""

import argparse
import gzip
import json
import math
import os
import random
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

LABEL_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
LABEL_SLUGS = ["t-shirt-top", "trouser", "pullover", "dress", "coat",
               "sandal", "shirt", "sneaker", "bag", "ankle-boot"]
DATA_DIR = "/usr/share/datasets/fashion-mnist"
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# --------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------

def read_idx(path):
    """Read an IDX file (optionally .gz) into a numpy array."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code != 0x08:
        raise ValueError("%s: not a uint8 IDX file" % path)
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if arr.size != int(np.prod(dims)):
        raise ValueError("%s: size mismatch" % path)
    return arr.reshape(dims).copy()


def find_idx(data_dir, stem):
    for name in (stem + ".gz", stem):
        p = os.path.join(data_dir, name)
        if os.path.exists(p):
            return p
    raise FileNotFoundError(
        "%s(.gz) not found in %s; apt-get install dataset-fashion-mnist"
        % (stem, data_dir))


def load_fmnist(data_dir):
    tr_x = read_idx(find_idx(data_dir, "train-images-idx3-ubyte"))
    tr_y = read_idx(find_idx(data_dir, "train-labels-idx1-ubyte"))
    te_x = read_idx(find_idx(data_dir, "t10k-images-idx3-ubyte"))
    te_y = read_idx(find_idx(data_dir, "t10k-labels-idx1-ubyte"))
    assert tr_x.shape == (60000, 28, 28) and te_x.shape == (10000, 28, 28)
    return tr_x, tr_y, te_x, te_y


def augment(x, gen, pad, flip):
    """Random crop with zero padding `pad` + random horizontal flip.
    x: float [B,1,H,W] in [0,1] pixel space (pad value 0 = black background,
    which is Fashion-MNIST's background)."""
    B, C, H, W = x.shape
    if pad > 0:
        xp = F.pad(x, (pad, pad, pad, pad), value=0.0)
        ox = torch.randint(0, 2 * pad + 1, (B,), generator=gen)
        oy = torch.randint(0, 2 * pad + 1, (B,), generator=gen)
        # gather crops with index arithmetic (no Python loop over the batch)
        ar = torch.arange(H)
        rows = (oy[:, None] + ar[None, :])            # [B,H]
        cols = (ox[:, None] + ar[None, :])            # [B,W]
        xp = xp[torch.arange(B)[:, None, None], 0,
                rows[:, :, None], cols[:, None, :]]   # [B,H,W]
        x = xp.unsqueeze(1)
    if flip:
        m = torch.rand(B, generator=gen) < 0.5
        x = torch.where(m[:, None, None, None], x.flip(3), x)
    return x


# --------------------------------------------------------------------------
# Model: timm VisionTransformer, same names and semantics
# --------------------------------------------------------------------------

class PatchEmbed(nn.Module):
    def __init__(self, img_size, patch_size, in_chans, embed_dim):
        super().__init__()
        self.img_size = img_size
        self.patch_size = patch_size
        self.grid_size = img_size // patch_size
        self.num_patches = self.grid_size * self.grid_size
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size,
                              stride=patch_size, bias=True)

    def forward(self, x):
        x = self.proj(x)                       # [B,E,gh,gw]
        return x.flatten(2).transpose(1, 2)    # [B,N,E] (row-major patches)


class Attention(nn.Module):
    def __init__(self, dim, num_heads, qkv_bias=True):
        super().__init__()
        assert dim % num_heads == 0
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.keep_attn = False   # set for ADL: the post-softmax map stays
        self.last_attn = None    # [B, heads, N, N] of the last forward

    def forward(self, x):
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, self.head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)   # [B,H,N,D] each
        attn = (q * self.scale) @ k.transpose(-2, -1)
        attn = attn.softmax(dim=-1)
        self.last_attn = attn if self.keep_attn else None
        x = (attn @ v).transpose(1, 2).reshape(B, N, C)
        return self.proj(x)


class Mlp(nn.Module):
    def __init__(self, in_features, hidden_features):
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.act = nn.GELU()          # exact (erf) GELU, as timm's default
        self.fc2 = nn.Linear(hidden_features, in_features)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    """timm's pre-norm ViT block (no layer scale, no drop path at export)."""

    def __init__(self, dim, num_heads, mlp_ratio=4.0, qkv_bias=True):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, num_heads, qkv_bias=qkv_bias)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        x = x + self.mlp(self.norm2(x))
        return x


# ---- Token-aware average pooling (TAP) ---------------------------------------
# shared/design/methods/tap_adl.md sections 3 and 5, with the official code's
# sub-module names (DilationPredictor.proj.{0,1,2}) so state dicts map directly.

class DilationPredictor(nn.Module):
    """conv3x3 C->K (no bias) -> BatchNorm(K) -> conv3x3 K->K (no bias)."""

    def __init__(self, dim, num_scales):
        super().__init__()
        self.proj = nn.Sequential(
            nn.Conv2d(dim, num_scales, 3, padding=1, bias=False),
            nn.BatchNorm2d(num_scales),              # eps 1e-5
            nn.Conv2d(num_scales, num_scales, 3, padding=1, bias=False))

    def forward(self, x):
        return self.proj(x)


def dilated_avg(x, k):
    """3x3 average with dilation k and zero padding k, divisor always 9
    (count_include_pad), written as shifted slice sums: in torch 1.13 on the
    CPU a grouped dilated conv2d is about 3x slower (tap_adl.md 9.4)."""
    if k == 0:
        return x
    H, W = x.shape[-2:]
    p = F.pad(x, (k, k, k, k))
    acc = None
    for a in (-1, 0, 1):
        for e in (-1, 0, 1):
            t = p[:, :, k + a * k:k + a * k + H, k + e * k:k + e * k + W]
            acc = t if acc is None else acc + t
    return acc / 9.0


class TAP(nn.Module):
    """Token-aware average pooling over the patch-token grid: per token, a
    softmax over K scales (identity, then 3x3 averages with dilation 1..K-1)
    predicted by `predictor`. Prefix tokens (class token) pass through
    unchanged and do not feed the predictor. No parameters of its own: the
    predictor belongs to the block, so weights are named
    blocks.N.dilation_predictor.proj.* as in the official code."""

    def __init__(self, num_scales, temperature=1.0):
        super().__init__()
        self.num_scales = num_scales
        self.temperature = temperature
        self.grid = None          # (H, W) of patch tokens, set by the model
        self.num_prefix = 1
        self.last_scales = None   # [B, H, W, K] weights of the last forward

    def forward(self, x, predictor):
        B, N, C = x.shape
        H, W = self.grid
        P = self.num_prefix
        prefix, tokens = x[:, :P], x[:, P:]
        g = tokens.transpose(1, 2).reshape(B, C, H, W)
        w = (predictor(g) / self.temperature).softmax(dim=1)   # [B, K, H, W]
        self.last_scales = w.permute(0, 2, 3, 1).detach()
        out = None
        for k in range(self.num_scales):
            term = w[:, k:k + 1] * dilated_avg(g, k)
            out = term if out is None else out + term
        out = out.reshape(B, C, H * W).transpose(1, 2)
        return torch.cat((prefix, out), dim=1)


class TAPBlock(Block):
    """x = x + attn(norm1(TAP(x))); x = x + mlp(norm2(x)): the residual keeps
    the un-pooled x (tap_adl.md 2)."""

    def __init__(self, dim, num_heads, mlp_ratio=4.0, qkv_bias=True,
                 num_scales=4, temperature=1.0):
        super().__init__(dim, num_heads, mlp_ratio, qkv_bias)
        self.dilation_predictor = DilationPredictor(dim, num_scales)
        self.tap = TAP(num_scales, temperature)

    def forward(self, x):
        x = x + self.attn(self.norm1(self.tap(x, self.dilation_predictor)))
        x = x + self.mlp(self.norm2(x))
        return x


def adl_loss(attns, threshold=2.0, eps=1e-8):
    """Attention diversification loss (tap_adl.md 4), explicit axes (no
    batch-size-1 squeeze bug). attns: list of [B, heads, N, N] post-softmax."""
    total = 0.0
    for a in attns:
        m = a.mean(dim=1)                                  # [B, N, N] heads first
        n = m.shape[-1]
        tau = threshold / n
        abar = m.mean(dim=1, keepdim=True)                 # [B, 1, N] over queries
        mt = m * (m > tau).to(m.dtype)
        at = abar * (abar > tau).to(m.dtype)
        dot = (mt * at).sum(-1)                            # [B, N]
        cos = dot / (mt.norm(dim=-1).clamp_min(eps) * at.norm(dim=-1).clamp_min(eps))
        total = total + cos.mean()
    return total / (len(attns) + 1e-6)


# ---- Block registry --------------------------------------------------------
# A block class takes (dim, num_heads, mlp_ratio, qkv_bias) and maps
# [B,T,E] -> [B,T,E]; --block picks one. --tap-scales K > 0 selects "tap".
BLOCKS = {"vit": Block, "tap": TAPBlock}


class VisionTransformer(nn.Module):
    def __init__(self, img_size=28, patch_size=4, in_chans=1, num_classes=10,
                 embed_dim=96, depth=6, num_heads=3, mlp_ratio=4.0,
                 qkv_bias=True, block_fn=Block, block_kwargs=None):
        super().__init__()
        self.num_classes = num_classes
        self.global_pool = "token"
        self.embed_dim = embed_dim
        self.num_prefix_tokens = 1
        self.patch_embed = PatchEmbed(img_size, patch_size, in_chans, embed_dim)
        n = self.patch_embed.num_patches
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, n + 1, embed_dim))
        self.blocks = nn.Sequential(*[
            block_fn(embed_dim, num_heads, mlp_ratio, qkv_bias,
                     **(block_kwargs or {}))
            for _ in range(depth)])
        for blk in self.blocks:
            if isinstance(blk, TAPBlock):
                g = self.patch_embed.grid_size
                blk.tap.grid = (g, g)
                blk.tap.num_prefix = self.num_prefix_tokens
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6)
        self.head = nn.Linear(embed_dim, num_classes)
        self._init_weights()

    def _init_weights(self):
        # timm 'jax'-free default init: trunc_normal(.02) for pos_embed and
        # Linear weights, normal(1e-6) for cls_token, zero biases.
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.normal_(self.cls_token, std=1e-6)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            # TAP's convs keep PyTorch's default (kaiming-uniform) init and
            # BatchNorm its (1, 0), as the official code does.

    def no_weight_decay(self):
        return {"pos_embed", "cls_token"}

    def forward_features(self, x):
        x = self.patch_embed(x)
        cls = self.cls_token.expand(x.shape[0], -1, -1)
        x = torch.cat((cls, x), dim=1) + self.pos_embed
        x = self.blocks(x)
        return self.norm(x)

    def forward_head(self, x):
        return self.head(x[:, 0])          # global_pool='token'

    def forward(self, x):
        return self.forward_head(self.forward_features(x))


# --------------------------------------------------------------------------
# safetensors (written by hand: 8-byte LE header length, JSON header, data)
# --------------------------------------------------------------------------

def save_safetensors(tensors, path, metadata=None):
    header = {}
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    blobs = []
    off = 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        if t.dtype == torch.int64:       # BatchNorm num_batches_tracked
            b, dt = t.numpy().astype("<i8", copy=False).tobytes(), "I64"
        else:
            b = t.to(torch.float32).numpy().astype("<f4", copy=False).tobytes()
            dt = "F32"
        header[name] = {"dtype": dt, "shape": list(t.shape),
                        "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)      # align data start to 8 bytes
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n).decode("utf-8"))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] in ("F32", "I64"), info["dtype"]
        a, b = info["data_offsets"]
        arr = np.frombuffer(data[a:b], dtype="<f4" if info["dtype"] == "F32"
                            else "<i8").reshape(info["shape"])
        out[name] = torch.from_numpy(arr.copy())
    return out


# --------------------------------------------------------------------------
# Training helpers
# --------------------------------------------------------------------------

class Logger:
    def __init__(self, path):
        self.path = path
        if path:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)

    def __call__(self, msg):
        print(msg, flush=True)
        if self.path:
            with open(self.path, "a") as f:
                f.write(msg + "\n")


def lr_at(step, total_steps, warmup_steps, base_lr, min_lr):
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    t = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return min_lr + 0.5 * (base_lr - min_lr) * (1.0 + math.cos(math.pi * t))


def to_input(u8, mean, std):
    """uint8 [B,28,28] numpy/tensor -> normalised float [B,1,28,28]."""
    x = torch.as_tensor(u8).to(torch.float32).div_(255.0).unsqueeze(1)
    return (x - mean) / std


@torch.no_grad()
def evaluate(model, x_u8, y, mean, std, batch=500):
    model.eval()
    correct, loss_sum = 0, 0.0
    for i in range(0, len(x_u8), batch):
        xb = to_input(x_u8[i:i + batch], mean, std)
        yb = torch.as_tensor(y[i:i + batch]).long()
        logits = model(xb)
        loss_sum += F.cross_entropy(logits, yb, reduction="sum").item()
        correct += (logits.argmax(1) == yb).sum().item()
    return correct / len(x_u8), loss_sum / len(x_u8)


def build_model(args):
    kwargs = None
    if args.tap_scales > 0:
        args.block = "tap"
        kwargs = {"num_scales": args.tap_scales,
                  "temperature": args.tap_temperature}
    elif args.block == "tap":
        raise SystemExit("--block tap needs --tap-scales K > 0")
    return VisionTransformer(
        img_size=28, patch_size=args.patch, in_chans=1, num_classes=10,
        embed_dim=args.embed_dim, depth=args.depth, num_heads=args.heads,
        mlp_ratio=args.mlp_ratio, qkv_bias=True, block_fn=BLOCKS[args.block],
        block_kwargs=kwargs)


def adl_blocks(model):
    """The attention modules ADL reads: those of TAP blocks, or of every
    block when the model has no TAP."""
    tap = [b.attn for b in model.blocks if isinstance(b, TAPBlock)]
    return tap or [b.attn for b in model.blocks]


def make_config(args, mean, std, test_acc):
    return {
        "architecture": args.arch_name,
        "num_classes": 10,
        "num_features": args.embed_dim,
        "global_pool": "token",
        "pretrained_cfg": {
            "input_size": [1, 28, 28],
            "interpolation": "bilinear",
            "crop_pct": 1.0,
            "crop_mode": "center",
            "mean": [mean],
            "std": [std],
            "num_classes": 10,
            "pool_size": None,
            "first_conv": "patch_embed.proj",
            "classifier": "head",
            "license": "mit",
        },
        "model_args": {
            "img_size": 28,
            "patch_size": args.patch,
            "in_chans": 1,
            "embed_dim": args.embed_dim,
            "depth": args.depth,
            "num_heads": args.heads,
            "mlp_ratio": args.mlp_ratio,
            "qkv_bias": True,
            "class_token": True,
            "global_pool": "token",
        },
        **({"tap": {"num_scales": args.tap_scales,
                    "temperature": args.tap_temperature}}
           if args.tap_scales > 0 else {}),
        "label_names": LABEL_NAMES,
        "training": {
            "dataset": "Fashion-MNIST (Debian package dataset-fashion-mnist)",
            "pytorch_test_top1": test_acc,
            "hyperparameters": hparams(args),
        },
    }


def hparams(args):
    keys = ["epochs", "embed_dim", "depth", "heads", "mlp_ratio", "patch",
            "lr", "min_lr", "warmup_epochs", "weight_decay", "batch",
            "label_smoothing", "crop_pad", "hflip", "seed", "block",
            "threads", "limit"]
    h = {k: getattr(args, k) for k in keys}
    # Recorded only when used, so older checkpoints still resume cleanly.
    if args.tap_scales > 0:
        h.update(tap_scales=args.tap_scales, tap_temperature=args.tap_temperature)
    if args.adl_weight > 0:
        h.update(adl_weight=args.adl_weight, adl_threshold=args.adl_threshold)
    return h


def write_samples(te_x, te_y, out_dir):
    """First two test images of each class as 8-bit grayscale PNG."""
    from PIL import Image
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for c in range(10):
        idx = np.nonzero(te_y == c)[0][:2]
        for i in idx:
            name = "fmnist-%04d-%s.png" % (i, LABEL_SLUGS[c])
            Image.fromarray(te_x[i], mode="L").save(os.path.join(out_dir, name))
            written.append(name)
    return sorted(written)


def write_fixtures(model, te_x, te_y, mean, std, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    model.eval()
    with torch.no_grad():
        logits = model(to_input(te_x[:64], mean, std)).to(torch.float32)
    te_x[:64].astype(np.uint8).tofile(os.path.join(out_dir, "first64_images.u8"))
    te_y[:64].astype(np.uint8).tofile(os.path.join(out_dir, "first64_labels.u8"))
    logits.numpy().astype("<f4").tofile(
        os.path.join(out_dir, "first64_logits.bin"))
    return logits


def fixtures_from(args, te_x, te_y):
    """Parity fixtures of an already exported model (e.g. one trained by
    tools/replicate_tap_adl.py without --fixtures): the model is rebuilt from
    the hyper-parameters its config.json records and loaded strictly."""
    if not args.fixtures:
        raise SystemExit("--fixtures-from needs --fixtures OUT_DIR")
    with open(os.path.join(args.fixtures_from, "config.json")) as f:
        cfg = json.load(f)
    h = cfg["training"]["hyperparameters"]
    for k in ("embed_dim", "depth", "heads", "mlp_ratio", "patch", "block"):
        setattr(args, k, h[k])
    tap = cfg.get("tap")
    args.tap_scales = tap["num_scales"] if tap else 0
    args.tap_temperature = tap["temperature"] if tap else 1.0
    model = build_model(args)
    model.load_state_dict(load_safetensors(
        os.path.join(args.fixtures_from, "model.safetensors")), strict=True)
    pc = cfg["pretrained_cfg"]
    logits = write_fixtures(model, te_x, te_y, pc["mean"][0], pc["std"][0],
                            args.fixtures)
    acc64 = (logits.argmax(1).numpy() == te_y[:64]).mean()
    print("fixtures of %s written to %s (first-64 top1 %.4f)"
          % (args.fixtures_from, args.fixtures, acc64))
    return 0


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------

def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    g = p.add_argument_group("model (timm VisionTransformer args)")
    g.add_argument("--embed-dim", type=int, default=96)
    g.add_argument("--depth", type=int, default=6)
    g.add_argument("--heads", type=int, default=3)
    g.add_argument("--mlp-ratio", type=float, default=2.0)
    g.add_argument("--patch", type=int, default=4)
    g.add_argument("--arch-name", default="vit_fmnist_patch4_28")

    g = p.add_argument_group("optimisation")
    g.add_argument("--epochs", type=int, default=15)
    g.add_argument("--lr", type=float, default=1e-3)
    g.add_argument("--min-lr", type=float, default=1e-5)
    g.add_argument("--warmup-epochs", type=float, default=1.0)
    g.add_argument("--weight-decay", type=float, default=0.05)
    g.add_argument("--batch", type=int, default=128)
    g.add_argument("--label-smoothing", type=float, default=0.1)
    g.add_argument("--crop-pad", type=int, default=2)
    g.add_argument("--hflip", type=int, default=1, choices=[0, 1])
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--threads", type=int, default=1)
    g.add_argument("--limit", type=int, default=0,
                   help="use only the first N train (and N test) images "
                        "(smoke run); 0 = all")

    g = p.add_argument_group("TAP blocks / ADL (shared/design/methods/tap_adl.md)")
    g.add_argument("--block", default="vit", choices=sorted(BLOCKS),
                   help="transformer block class; --tap-scales > 0 implies tap")
    g.add_argument("--tap-scales", type=int, default=0,
                   help="K scales of token-aware average pooling in every "
                        "block (0 = no TAP; the paper uses 4)")
    g.add_argument("--tap-temperature", type=float, default=1.0)
    g.add_argument("--adl-weight", type=float, default=0.0,
                   help="lambda of the attention diversification loss over "
                        "the TAP blocks (all blocks without TAP); 0 = off")
    g.add_argument("--adl-threshold", type=float, default=2.0,
                   help="ADL threshold th: weights <= th/N are zeroed")

    g = p.add_argument_group("i/o")
    g.add_argument("--data-dir", default=DATA_DIR)
    g.add_argument("--out", default=os.path.join(REPO_ROOT, "tools", ".cache",
                                                 "fmnist-vit"))
    g.add_argument("--checkpoint", default=None,
                   help="checkpoint path (default OUT/../<name>.ckpt.pt "
                        "under tools/.cache/, never committed)")
    g.add_argument("--resume", action="store_true",
                   help="continue from --checkpoint if it exists")
    g.add_argument("--fixtures", default=None,
                   help="write first64_* parity fixtures here "
                        "(e.g. tests/fixtures/fmnist)")
    g.add_argument("--fixtures-from", default=None, metavar="MODEL_DIR",
                   help="no training: load MODEL_DIR (config.json and "
                        "model.safetensors written by this script) and write "
                        "its first64_* fixtures to --fixtures")
    g.add_argument("--samples", default=None,
                   help="write the 20 sample PNGs here (e.g. assets/samples)")
    g.add_argument("--samples-only", action="store_true",
                   help="only write --samples and exit (no training)")
    g.add_argument("--stop-after", type=int, default=0,
                   help="stop (checkpointed, no export) after this epoch; "
                        "with --resume this replays interrupted runs exactly")
    g.add_argument("--note", default="",
                   help="free-text note stored in config.json training.note")
    g.add_argument("--eval-every", type=int, default=1,
                   help="evaluate on the test set every N epochs (logging "
                        "only; the exported model is always the last epoch)")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    tr_x, tr_y, te_x, te_y = load_fmnist(args.data_dir)

    if args.samples:
        names = write_samples(te_x, te_y, args.samples)
        print("wrote %d samples to %s" % (len(names), args.samples))
        if args.samples_only:
            return 0

    if args.fixtures_from:
        return fixtures_from(args, te_x, te_y)

    if args.checkpoint is None:
        args.checkpoint = os.path.join(REPO_ROOT, "tools", ".cache",
                                       os.path.basename(os.path.normpath(
                                           args.out)) + ".ckpt.pt")
    os.makedirs(args.out, exist_ok=True)
    os.makedirs(os.path.dirname(os.path.abspath(args.checkpoint)),
                exist_ok=True)
    log = Logger(os.path.join(args.out, "train_log.txt"))

    # normalisation statistics over the full 60k training set
    trf = tr_x.astype(np.float64) / 255.0
    mean, std = float(trf.mean()), float(trf.std())
    del trf
    if args.limit:
        tr_x, tr_y = tr_x[:args.limit], tr_y[:args.limit]
        te_eval_x, te_eval_y = te_x[:args.limit], te_y[:args.limit]
    else:
        te_eval_x, te_eval_y = te_x, te_y

    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    model = build_model(args)
    nparams = sum(p.numel() for p in model.parameters())

    decay, no_decay = [], []
    skip = model.no_weight_decay()
    for n, p_ in model.named_parameters():
        (no_decay if p_.ndim <= 1 or n in skip else decay).append(p_)
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": args.weight_decay},
         {"params": no_decay, "weight_decay": 0.0}],
        lr=args.lr, betas=(0.9, 0.999))

    n_train = len(tr_x)
    steps_per_epoch = n_train // args.batch          # drop last partial batch
    total_steps = steps_per_epoch * args.epochs
    warmup_steps = int(round(args.warmup_epochs * steps_per_epoch))
    start_epoch, history, train_time = 0, [], 0.0

    if args.resume and os.path.exists(args.checkpoint):
        ck = torch.load(args.checkpoint, map_location="cpu")
        if ck["hparams"] != hparams(args):
            log("WARNING: resuming with different hyper-parameters:\n  ckpt %s"
                "\n  now  %s" % (ck["hparams"], hparams(args)))
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        start_epoch = ck["epoch"] + 1
        history = ck["history"]
        train_time = ck["train_time"]
        log("resumed from %s at epoch %d" % (args.checkpoint, start_epoch + 1))
    else:
        log("=== train_vit.py  %s" % time.strftime("%Y-%m-%d %H:%M:%S"))
        log("command: %s" % " ".join([sys.executable]
                                      + sys.argv))
        log("torch %s, threads %d" % (torch.__version__,
                                      torch.get_num_threads()))
        log("hparams: %s" % json.dumps(hparams(args), sort_keys=True))
        log("train %d, test %d, mean %.6f std %.6f, params %d, "
            "steps/epoch %d" % (n_train, len(te_eval_x), mean, std, nparams,
                                steps_per_epoch))

    crit = nn.CrossEntropyLoss(label_smoothing=args.label_smoothing)
    adl_attn = adl_blocks(model) if args.adl_weight > 0 else []
    for a in adl_attn:
        a.keep_attn = True
    tr_x_t = torch.from_numpy(tr_x)
    tr_y_t = torch.from_numpy(tr_y).long()
    test_acc = history[-1].get("test_acc") if history else None

    for epoch in range(start_epoch, args.epochs):
        gen = torch.Generator().manual_seed(args.seed * 1000003 + epoch)
        perm = torch.randperm(n_train, generator=gen)
        model.train()
        t0 = time.time()
        loss_sum, correct, seen, adl_sum = 0.0, 0, 0, 0.0
        for it in range(steps_per_epoch):
            step = epoch * steps_per_epoch + it
            lr = lr_at(step, total_steps, warmup_steps, args.lr, args.min_lr)
            for gp in opt.param_groups:
                gp["lr"] = lr
            idx = perm[it * args.batch:(it + 1) * args.batch]
            # augment in [0,1] pixel space (pad value 0 = black background),
            # then normalise
            xb = tr_x_t[idx].to(torch.float32).div_(255.0).unsqueeze(1)
            xb = augment(xb, gen, args.crop_pad, bool(args.hflip))
            xb = (xb - mean) / std
            yb = tr_y_t[idx]
            logits = model(xb)
            loss = crit(logits, yb)
            if adl_attn:
                adl = adl_loss([a.last_attn for a in adl_attn],
                               args.adl_threshold)
                loss = loss + args.adl_weight * adl
                adl_sum += adl.item() * len(idx)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += loss.item() * len(idx)
            correct += (logits.argmax(1) == yb).sum().item()
            seen += len(idx)
        dt = time.time() - t0
        train_time += dt
        rec = {"epoch": epoch + 1, "sched_epochs": args.epochs,
               "train_loss": loss_sum / seen,
               "train_acc": correct / seen, "lr": lr, "epoch_s": dt}
        if adl_attn:
            rec["train_adl"] = adl_sum / seen
        if (epoch + 1) % args.eval_every == 0 or epoch + 1 == args.epochs:
            te0 = time.time()
            test_acc, test_loss = evaluate(model, te_eval_x, te_eval_y,
                                           mean, std)
            rec.update(test_acc=test_acc, test_loss=test_loss,
                       eval_s=time.time() - te0)
        history.append(rec)
        log("epoch %3d/%d  train_loss %.4f  train_acc %.4f  %s lr %.2e  "
            "time %.1fs (total %.1f min)" % (
                epoch + 1, args.epochs, rec["train_loss"], rec["train_acc"],
                ("test_loss %.4f  test_acc %.4f " % (rec["test_loss"],
                                                     rec["test_acc"])
                 if "test_acc" in rec else ""), lr, dt, train_time / 60))
        ck = {"model": model.state_dict(), "opt": opt.state_dict(),
              "epoch": epoch, "history": history, "train_time": train_time,
              "hparams": hparams(args), "mean": mean, "std": std}
        torch.save(ck, args.checkpoint + ".tmp")
        os.replace(args.checkpoint + ".tmp", args.checkpoint)
        if args.stop_after and epoch + 1 >= args.stop_after \
                and epoch + 1 < args.epochs:
            log("stopping after epoch %d (--stop-after)" % (epoch + 1))
            return 0

    # ---- final evaluation on the full 10k test set + export ---------------
    test_acc, test_loss = evaluate(model, te_x, te_y, mean, std)
    log("FINAL full test set (10000): top1 %.4f  loss %.4f  "
        "(train time %.1f min, %d params)" % (test_acc, test_loss,
                                              train_time / 60, nparams))
    sd = {k: v for k, v in model.state_dict().items()}
    save_safetensors(sd, os.path.join(args.out, "model.safetensors"),
                     metadata={"format": "pt"})
    cfg = make_config(args, mean, std, test_acc)
    cfg["training"]["train_time_min"] = round(train_time / 60, 2)
    cfg["training"]["params"] = nparams
    cfg["training"]["epochs_run"] = len(history)
    if args.note:
        cfg["training"]["note"] = args.note
    cfg["training"]["history"] = history
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")

    # round-trip check: reload the safetensors into a fresh model
    m2 = build_model(args)
    m2.load_state_dict(load_safetensors(
        os.path.join(args.out, "model.safetensors")), strict=True)
    acc2, _ = evaluate(m2, te_x, te_y, mean, std)
    assert abs(acc2 - test_acc) < 1e-9, (acc2, test_acc)
    log("safetensors round trip OK (top1 %.4f)" % acc2)

    if args.fixtures:
        logits = write_fixtures(m2, te_x, te_y, mean, std, args.fixtures)
        acc64 = (logits.argmax(1).numpy() == te_y[:64]).mean()
        log("fixtures written to %s (first-64 top1 %.4f)" % (args.fixtures,
                                                             acc64))
    log("wrote %s" % args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
