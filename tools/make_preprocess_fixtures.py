#!/usr/bin/python3
"""make_preprocess_fixtures.py: test images and the expected results of decoding and of
timm's evaluation transform, for tests/test_image.c and tests/test_preprocess.c.

Writes into tests/fixtures/preprocess/:
  * synthetic but textured images (gradients, shapes, mild noise) as PNG in every colour
    type the C decoder must handle (RGB, gray, RGBA, gray+alpha, palette + tRNS, 16-bit
    RGB, 16-bit gray, 16-bit gray+alpha, 1-bit gray) and one baseline 4:2:0 JPEG;
  * <image>.rgb8 / <image>.gray8: the bytes PIL gives after convert('RGB') / convert('L'),
    so the C decoder can be compared byte for byte (for the JPEG: within a tolerance);
    for images over MAX_RAW_PIXELS only a CRC-32 of those bytes, to keep fixtures small;
  * <name>.f32: torchvision's result of timm's eval transform for a few parameter sets,
    float32 little-endian [C, h, w];
  * manifest.json listing all of it.

The eval transform is written out here with torchvision primitives, as timm's
transforms_factory.transforms_imagenet_eval builds it (timm 0.6 semantics, which is what
vision/preprocess.c implements):
  center: Resize(floor(size / crop_pct)) on the shorter side for a square target,
          Resize((floor(H / crop_pct), floor(W / crop_pct))) for a non-square one;
  squash: Resize((floor(H / crop_pct), floor(W / crop_pct))) always;
  then CenterCrop(size) -> ToTensor -> Normalize(mean, std).
timm itself is not installable here; the transform is small enough to state directly.

PNG files with colour types PIL cannot write (16-bit RGB, 16-bit gray+alpha, tRNS on a
palette) are written by a tiny encoder below (zlib + struct), so PIL is only the reader.
Deliberately not done: any image larger than a few hundred pixels a side (fixtures stay
small), and random crops / training transforms.
"""
import json
import math
import os
import struct
import sys
import zlib

import numpy as np
import torch
from PIL import Image
from torchvision import transforms
from torchvision.transforms import InterpolationMode

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "preprocess")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
MAX_RAW_PIXELS = 20000  # larger decode expectations are stored as a CRC-32 (size budget)


def write_png(path, arr, bit_depth, color_type, plte=None, trns=None):
    """Minimal PNG encoder (filter type 0 on every row)."""
    h, w = arr.shape[:2]

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    if bit_depth == 16:
        rows = arr.astype(">u2").reshape(h, -1)
        raw = b"".join(b"\x00" + rows[y].tobytes() for y in range(h))
    elif bit_depth == 8:
        rows = arr.astype("u1").reshape(h, -1)
        raw = b"".join(b"\x00" + rows[y].tobytes() for y in range(h))
    else:  # sub-byte gray or palette: pack MSB first
        per = 8 // bit_depth
        lines = []
        for y in range(h):
            line = bytearray((w + per - 1) // per)
            for x in range(w):
                line[x // per] |= int(arr[y, x]) << (8 - bit_depth * (x % per + 1))
            lines.append(b"\x00" + bytes(line))
        raw = b"".join(lines)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, 0))
    if plte is not None:
        data += chunk(b"PLTE", plte)
    if trns is not None:
        data += chunk(b"tRNS", trns)
    data += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(data)


def textured(h, w, rng, channels=3, noise=6.0):
    """Smooth gradients + a disc + a rectangle + a stripe pattern + mild noise, uint8.
    Edges and stripes exercise the resampling filters; the noise is kept low so the PNGs
    compress well."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    planes = []
    for c in range(channels):
        base = 40 + 160 * (x / max(w - 1, 1)) * (0.5 + 0.5 * c / max(channels - 1, 1))
        base += 50 * np.sin(y / max(h, 1) * math.pi * (1 + c))
        disc = (x - w * 0.6) ** 2 + (y - h * 0.4) ** 2 < (0.25 * min(h, w)) ** 2
        base[disc] = 230 - 60 * c
        rect = (x > w * 0.1) & (x < w * 0.35) & (y > h * 0.55) & (y < h * 0.9)
        base[rect] = 20 + 30 * c
        stripes = ((x + 2 * y) // 3 % 2 == 0) & (y < h * 0.25)
        base[stripes] += 45
        base += rng.normal(0, noise, size=(h, w))
        planes.append(np.clip(np.round(base), 0, 255))
    return np.stack(planes, -1).astype(np.uint8)


def make_images(rng):
    """Returns [(file name, kind)]; writes the files."""
    images = []

    def save(name, im):
        im.save(os.path.join(OUT, name), optimize=True)
        images.append(name)

    save("rgb_53x37.png", Image.fromarray(textured(37, 53, rng)))
    save("rgb_300x200.png", Image.fromarray(textured(200, 300, rng, noise=1.5)))
    save("gray_64x64.png", Image.fromarray(textured(64, 64, rng, channels=1)[..., 0]))
    save("rgb_17x290.png", Image.fromarray(textured(290, 17, rng)))
    rgba = np.concatenate([textured(30, 40, rng), textured(30, 40, rng, channels=1)], -1)
    save("rgba_40x30.png", Image.fromarray(rgba, "RGBA"))
    save("gray_alpha_23x19.png", Image.fromarray(np.concatenate(
        [textured(19, 23, rng, channels=1), textured(19, 23, rng, channels=1)], -1), "LA"))

    # 16-bit RGB, 16-bit gray (PIL quirk: mode "I", converted by clipping to 0..255),
    # 16-bit gray+alpha; values spread over the whole range.
    rgb16 = (textured(20, 24, rng).astype(np.uint16) * 257 + rng.integers(0, 257, (20, 24, 3))).astype(np.uint16)
    write_png(os.path.join(OUT, "rgb16_24x20.png"), rgb16, 16, 2)
    images.append("rgb16_24x20.png")
    gray16 = rng.integers(0, 600, (18, 21)).astype(np.uint16)
    gray16[0, :6] = [0, 1, 254, 255, 256, 65535]
    write_png(os.path.join(OUT, "gray16_21x18.png"), gray16, 16, 0)
    images.append("gray16_21x18.png")
    la16 = rng.integers(0, 65536, (11, 13, 2)).astype(np.uint16)
    write_png(os.path.join(OUT, "gray_alpha16_13x11.png"), la16, 16, 4)
    images.append("gray_alpha16_13x11.png")

    # Palette with transparency (tRNS) and a 4-bit palette; 1-bit gray.
    palette = rng.integers(0, 256, (16, 3)).astype(np.uint8)
    idx = (textured(26, 31, rng, channels=1)[..., 0] // 16).astype(np.uint8)
    write_png(os.path.join(OUT, "palette_trns_31x26.png"), idx, 8, 3, plte=palette.tobytes(),
              trns=bytes(rng.integers(0, 256, 10).astype(np.uint8)))
    images.append("palette_trns_31x26.png")
    write_png(os.path.join(OUT, "palette4_15x9.png"), rng.integers(0, 16, (9, 15)).astype(np.uint8), 4, 3,
              plte=palette.tobytes())
    images.append("palette4_15x9.png")
    write_png(os.path.join(OUT, "gray1_19x7.png"), rng.integers(0, 2, (7, 19)).astype(np.uint8), 1, 0)
    images.append("gray1_19x7.png")

    Image.fromarray(textured(48, 64, rng)).save(os.path.join(OUT, "photo_64x48.jpg"), quality=90)
    images.append("photo_64x48.jpg")
    return images


def eval_transform(size, crop_pct, interp, mode, mean, std):
    """timm's eval transform for target size (H, W) (see the header)."""
    h, w = size
    mode_enum = {"bicubic": InterpolationMode.BICUBIC, "bilinear": InterpolationMode.BILINEAR}[interp]
    scaled = (math.floor(h / crop_pct), math.floor(w / crop_pct))
    if mode == "center" and h == w:
        resize = transforms.Resize(scaled[0], interpolation=mode_enum)
    else:
        resize = transforms.Resize(scaled, interpolation=mode_enum)
    return transforms.Compose([resize, transforms.CenterCrop((h, w)), transforms.ToTensor(),
                               transforms.Normalize(mean, std)])


# (image, gray?, size (H, W), crop_pct, interpolation, crop mode, mean, std)
CASES = [
    ("rgb_300x200.png", False, (32, 32), 0.875, "bicubic", "center", IMAGENET_MEAN, IMAGENET_STD),
    ("rgb_300x200.png", False, (48, 48), 0.9, "bilinear", "center", (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
    ("rgb_300x200.png", False, (24, 40), 0.875, "bicubic", "center", IMAGENET_MEAN, IMAGENET_STD),
    ("rgb_300x200.png", False, (32, 32), 1.0, "bicubic", "squash", IMAGENET_MEAN, IMAGENET_STD),
    ("rgb_53x37.png", False, (48, 48), 0.875, "bicubic", "center", IMAGENET_MEAN, IMAGENET_STD),
    ("rgb_53x37.png", False, (32, 32), 1.0, "bilinear", "center", IMAGENET_MEAN, IMAGENET_STD),
    ("rgb_17x290.png", False, (32, 32), 0.9, "bicubic", "center", IMAGENET_MEAN, IMAGENET_STD),
    ("rgb_17x290.png", False, (24, 40), 0.9, "bilinear", "squash", (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
    ("gray_64x64.png", True, (32, 32), 0.875, "bicubic", "center", (0.5,), (0.25,)),
    ("gray_64x64.png", True, (24, 40), 1.0, "bicubic", "center", (0.5,), (0.25,)),
    ("rgba_40x30.png", False, (48, 48), 0.9, "bicubic", "center", IMAGENET_MEAN, IMAGENET_STD),
    ("photo_64x48.jpg", False, (32, 32), 0.875, "bilinear", "center", IMAGENET_MEAN, IMAGENET_STD),
]


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        os.remove(os.path.join(OUT, f))
    rng = np.random.default_rng(20240611)
    images = make_images(rng)

    manifest = {"images": [], "transforms": []}
    for name in images:
        im = Image.open(os.path.join(OUT, name))
        entry = {"file": name, "width": im.size[0], "height": im.size[1], "pil_mode": im.mode}
        for want, ext in ((3, "rgb8"), (1, "gray8")):
            arr = np.ascontiguousarray(np.asarray(im.convert("RGB" if want == 3 else "L"), dtype=np.uint8))
            if arr.shape[0] * arr.shape[1] > MAX_RAW_PIXELS:
                # Too big to commit raw: the test compares a CRC-32 of the bytes instead.
                entry[ext + "_crc32"] = zlib.crc32(arr.tobytes()) & 0xFFFFFFFF
                continue
            out = name.rsplit(".", 1)[0] + "." + ext
            arr.tofile(os.path.join(OUT, out))
            entry[ext] = out
        # PIL decodes JPEG with libjpeg (fancy upsampling); FFmpeg's decoder + swscale
        # differ slightly, so the C test compares JPEGs within a tolerance.
        entry["exact"] = not name.endswith(".jpg")
        manifest["images"].append(entry)

    for i, (name, gray, size, crop_pct, interp, mode, mean, std) in enumerate(CASES):
        im = Image.open(os.path.join(OUT, name)).convert("L" if gray else "RGB")
        t = eval_transform(size, crop_pct, interp, mode, mean, std)
        out = t(im).numpy().astype("<f4")
        assert out.shape == (1 if gray else 3, size[0], size[1]), out.shape
        fname = "t%02d_%s_%dx%d.f32" % (i, name.rsplit(".", 1)[0], size[0], size[1])
        out.tofile(os.path.join(OUT, fname))
        manifest["transforms"].append({
            "image": name, "channels": 1 if gray else 3, "size": list(size), "crop_pct": crop_pct,
            "interpolation": interp, "crop_mode": mode, "mean": list(mean), "std": list(std),
            "expected": fname, "transform": repr(t).replace("\n", " ")})

    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print("wrote %d images, %d transforms, %d bytes to %s" % (len(images), len(CASES), total, OUT))
    if total > 500 * 1024:
        sys.exit("fixtures exceed 500 KB")


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
