#!/usr/bin/python3
"""make_preprocess_fixtures.py: test images and the expected results of decoding and of
timm's evaluation transform, for tests/test_image.c and tests/test_preprocess.c.

Writes into tests/fixtures/preprocess/:
  * synthetic but textured images (gradients, shapes, mild noise) as PNG in every colour
    type the C decoder must handle (RGB, gray, RGBA, gray+alpha, palette + tRNS, 16-bit
    RGB, 16-bit gray, 16-bit gray+alpha, 1-bit gray), one baseline 4:2:0 JPEG, and a BMP
    and a TIFF (lossless, decoded by FFmpeg: they must match PIL exactly too);
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

With --samples DIR it instead writes the photo-like sample scenes bundled in assets/samples/scenes/
(procedural: no third-party pixels, so no licence question), for CLI examples and tests.
"""
import json
import math
import os
import shutil
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
    # Lossless formats decoded by FFmpeg: must match PIL exactly too. They live in a
    # subfolder so the top folder keeps only PNG + JPEG (the CLI test classifies it).
    os.makedirs(os.path.join(OUT, "ffmpeg"), exist_ok=True)
    Image.fromarray(textured(15, 20, rng)).save(os.path.join(OUT, "ffmpeg", "rgb_20x15.bmp"))
    images.append("ffmpeg/rgb_20x15.bmp")
    Image.fromarray(textured(14, 18, rng)).save(os.path.join(OUT, "ffmpeg", "rgb_18x14.tiff"))
    images.append("ffmpeg/rgb_18x14.tiff")
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


def render_samples(out_dir):
    """Four 160x120 procedural scenes with photographic traits: smooth lighting, soft
    shadows, texture noise, saturated and muted colours, fine detail for the resampler."""
    rng = np.random.default_rng(7)
    h, w = 120, 160
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    scenes = {}

    # Landscape: sky gradient, sun with glow, two hill ranges, a lake with a dimmed reflection.
    img = np.zeros((h, w, 3))
    sky = y / (h * 0.55)
    img[:] = np.stack([90 + 120 * sky, 150 + 70 * sky, 235 - 20 * sky], -1)
    glow = np.exp(-((x - 120) ** 2 + (y - 25) ** 2) / 300.0)
    img += glow[..., None] * np.array([120, 90, 20])
    img[(x - 120) ** 2 + (y - 25) ** 2 < 64] = [255, 240, 180]
    far = h * 0.5 + 8 * np.sin(x / 17.0) + 5 * np.sin(x / 7.3 + 1)
    img[y > far] = np.array([70, 110, 120]) + rng.normal(0, 6, (int((y > far).sum()), 1))
    near = h * 0.62 + 10 * np.sin(x / 23.0 + 2) + 3 * np.sin(x / 3.1)
    grass = y > near
    img[grass] = np.array([60, 140, 50]) + rng.normal(0, 14, (int(grass.sum()), 3)) * [0.6, 1, 0.5]
    lake = y > h * 0.8
    img[lake] = img[np.clip((2 * h * 0.8 - y[lake]).astype(int), 0, h - 1), x[lake].astype(int)] * 0.6 + [10, 25, 45]
    scenes["scene-landscape.png"] = img

    # Still life: wooden table, three shaded spheres with soft shadows, a dark wall.
    img = np.zeros((h, w, 3))
    img[:] = [45, 42, 50]
    table = y > h * 0.55
    grain = 20 * np.sin(x / 3.0 + 4 * np.sin(y / 11.0)) + rng.normal(0, 5, (h, w))
    img[table] = (np.array([150, 100, 60]) + grain[table][:, None] * [1, 0.7, 0.4])
    for cx, cy, r, col in ((45, 70, 20, (200, 40, 40)), (95, 74, 16, (230, 200, 60)), (130, 68, 13, (60, 90, 200))):
        sh = np.exp(-(((x - cx - 8) / (r * 1.3)) ** 2 + ((y - cy - r * 0.9) / (r * 0.35)) ** 2))
        img *= 1 - 0.55 * sh[..., None] * table[..., None]
        d2 = (x - cx) ** 2 + (y - cy) ** 2
        inside = d2 < r * r
        nz = np.sqrt(np.clip(1 - d2 / (r * r), 0, 1))
        lam = np.clip(((x - cx) * -0.5 + (y - cy) * -0.6) / r + nz * 0.7, 0.05, 1)
        spec = np.clip(lam, 0, 1) ** 30 * 200
        shade = np.array(col)[None, :] * lam[inside][:, None] + spec[inside][:, None]
        img[inside] = shade
    scenes["scene-still_life.png"] = img

    # Night city: gradient sky, skyline blocks with lit windows, street lights.
    img = np.zeros((h, w, 3))
    img[:] = np.stack([10 + 30 * y / h, 12 + 25 * y / h, 40 + 40 * y / h], -1)
    left = 0
    while left < w:
        bw, bh = int(rng.integers(12, 28)), int(rng.integers(30, 95))
        tone = rng.integers(20, 50)
        img[h - bh:, left:left + bw] = [tone, tone, tone + 8]
        for wy in range(h - bh + 4, h - 6, 6):
            for wx in range(left + 3, min(left + bw - 3, w - 2), 5):
                if rng.random() < 0.45:
                    img[wy:wy + 3, wx:wx + 2] = [255, 210, 120] if rng.random() < 0.8 else [180, 220, 255]
        left += bw + int(rng.integers(0, 4))
    for lx in range(10, w, 35):
        img += (np.exp(-((x - lx) ** 2 + (y - (h - 14)) ** 2) / 40.0)[..., None] * [200, 160, 80])
    scenes["scene-night_city.png"] = img

    # Flower: radial petals with veins, a textured centre, a blurred green background.
    img = np.zeros((h, w, 3))
    img[:] = np.array([50, 100, 45]) + 30 * np.sin(x / 19.0 + y / 13.0)[..., None] * [0.3, 1, 0.3]
    cx, cy = 80, 60
    ang = np.arctan2(y - cy, x - cx)
    rad = np.hypot(x - cx, y - cy)
    petal_r = 40 * (0.55 + 0.45 * np.abs(np.cos(4 * ang)))
    petal = rad < petal_r
    vein = 0.85 + 0.15 * np.cos(ang * 48)
    img[petal] = (np.array([235, 90, 150]) * (0.6 + 0.4 * rad[petal] / 40.0)[:, None] * vein[petal][:, None])
    centre = rad < 10
    img[centre] = np.array([240, 190, 40]) + rng.normal(0, 25, (int(centre.sum()), 1))
    scenes["scene-flower.png"] = img

    os.makedirs(out_dir, exist_ok=True)
    for name, img in scenes.items():
        img = img + rng.normal(0, 2.5, img.shape)  # sensor-like noise
        Image.fromarray(np.clip(np.round(img), 0, 255).astype(np.uint8)).save(os.path.join(out_dir, name),
                                                                              optimize=True)
        print("wrote", os.path.join(out_dir, name))


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--samples":
        render_samples(sys.argv[2])
        return
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
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
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(OUT) for f in files)
    print("wrote %d images, %d transforms, %d bytes to %s" % (len(images), len(CASES), total, OUT))
    if total > 500 * 1024:
        sys.exit("fixtures exceed 500 KB")


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
