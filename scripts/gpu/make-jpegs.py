"""Writes an ImageNet-like image folder for the input-pipeline benchmark (pipeline.js, pipeline.py):
COUNT images (default 5200) of about 500x375 (480-520 x 360-390), JPEG quality 90, in 100 class
subfolders named like ImageNet's (n00000000/n00000000_17.JPEG). The content is smooth and
natural-ish (soft gradients and waves, a few soft-edged shapes, fine texture, sensor-like noise), so that files
are about the size of ImageNet's and cost about as much to decode. As in ImageNet, a few files are
CMYK JPEGs, a few greyscale JPEGs and a few PNGs named .JPEG. Deterministic (seeded per image);
does nothing when OUT_DIR already holds COUNT files.
Usage: python make-jpegs.py OUT_DIR [COUNT]   (prints one JSON line)
"""
import json
import multiprocessing
import os
import re
import shutil
import sys
import time

import numpy as np
from PIL import Image

CLASSES = 100
SEED = 20240
TEXTURE = 1.5
NOISE = 8


def layout(count):
    """(relative path, kind) of every image; kind is 'rgb', 'cmyk', 'grey' or 'png'."""
    rng = np.random.default_rng(SEED)
    special = max(1, count // 500)
    picked = rng.choice(count, size=min(count, 2 * special + max(1, count // 1000)), replace=False)
    kinds = ['rgb'] * count
    for n, i in enumerate(picked):
        kinds[i] = 'cmyk' if n < special else 'grey' if n < 2 * special else 'png'
    return [(os.path.join(f'n{i % CLASSES:08d}', f'n{i % CLASSES:08d}_{i}.JPEG'), kinds[i]) for i in range(count)]


def picture(i):
    """Image i as uint8 [H, W, 3]: everything drawn from a generator seeded by (SEED, i)."""
    rng = np.random.default_rng([SEED, i])
    f32 = np.float32
    h, w = int(rng.integers(360, 391)), int(rng.integers(480, 521))
    y = np.linspace(0, 1, h, dtype=f32)[:, None]
    x = np.linspace(0, 1, w, dtype=f32)[None, :]
    # Background: a colour gradient and a few low-frequency waves (amplitude falling with
    # frequency), each wave an outer product (sin(a + b) = sin a cos b + cos a sin b).
    slope = rng.uniform(-60, 60, (2, 3)).astype(f32)
    img = rng.uniform(40, 215, 3).astype(f32) + y[..., None] * slope[0] + x[..., None] * slope[1]
    for k in range(1, 5):
        fy, fx = (rng.uniform(-3, 3, 2) * k * 2 * np.pi).astype(f32)
        phase = f32(rng.uniform(0, 2 * np.pi))
        wave = np.sin(fy * y + phase) * np.cos(fx * x) + np.cos(fy * y + phase) * np.sin(fx * x)
        img += wave[..., None] * (rng.uniform(-30, 30, 3).astype(f32) / k)
    # Objects: soft-edged ellipses of other colours, some with a texture of their own, each
    # computed over its bounding box only.
    for _ in range(int(rng.integers(3, 8))):
        cy, cx, ry, rx, theta = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.05, 0.35), rng.uniform(0.05, 0.35), rng.uniform(0, np.pi)
        r = max(ry, rx)
        y0, y1 = max(0, int((cy - r) * h)), min(h, int((cy + r) * h) + 1)
        x0, x1 = max(0, int((cx - r) * w)), min(w, int((cx + r) * w) + 1)
        if y0 >= y1 or x0 >= x1:
            continue
        dy, dx = y[y0:y1] - f32(cy), x[:, x0:x1] - f32(cx)
        c, s = f32(np.cos(theta)), f32(np.sin(theta))
        u = (dx * c + dy * s) / f32(rx)
        v = (dy * c - dx * s) / f32(ry)
        alpha = np.clip((1 - (u * u + v * v)) / f32(rng.uniform(0.02, 0.3)), 0, 1)[..., None]
        colour = rng.uniform(0, 255, 3).astype(f32)
        if rng.random() < 0.6:
            f = f32(rng.uniform(15, 90))
            colour = colour + (rng.uniform(10, 40) * np.sin(f * u) * np.cos(f * v)).astype(f32)[..., None]
        box = img[y0:y1, x0:x1]
        box += alpha * (colour - box)
    # Fine detail: random grids of 2-16 pixel cells upsampled (bilinear), as in textured surfaces,
    # then sensor-like noise; these set the file's size and its decoding cost.
    detail = np.zeros((h, w), f32)
    for cell, amplitude in ((2, 5), (4, 7), (8, 8), (16, 8)):
        grid = rng.standard_normal((h // cell + 2, w // cell + 2), dtype=f32) * f32(amplitude * TEXTURE)
        detail += np.asarray(Image.fromarray(grid, 'F').resize((w, h), Image.BILINEAR))
    img += detail[..., None]
    img += rng.standard_normal((h, w, 1), dtype=f32) * f32(rng.uniform(NOISE, NOISE + 4))  # luminance noise
    img += rng.standard_normal((h, w, 3), dtype=f32) * f32(2)  # a little chroma noise
    return np.clip(img, 0, 255).astype(np.uint8)


def write(job):
    root, i, rel, kind = job
    img = Image.fromarray(picture(i))
    path = os.path.join(root, rel)
    if kind == 'cmyk':
        img.convert('CMYK').save(path, 'JPEG', quality=90)
    elif kind == 'grey':
        img.convert('L').save(path, 'JPEG', quality=90)
    elif kind == 'png':
        img.save(path, 'PNG')
    else:
        img.save(path, 'JPEG', quality=90)
    return os.path.getsize(path)


def existing(root):
    return sum(len(files) for _, _, files in os.walk(root)) if os.path.isdir(root) else 0


def main():
    root = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 5200
    if existing(root) == count:
        print(json.dumps({'root': root, 'count': count, 'written': 0}))
        return
    if os.path.isdir(root):
        # Another count: start again, but only over a folder this script wrote.
        if not all(re.fullmatch(r'n\d{8}', e) and os.path.isdir(os.path.join(root, e)) for e in os.listdir(root)):
            sys.exit(f'make-jpegs.py: {root} holds other files than class folders: not touching it')
        shutil.rmtree(root)
    files = layout(count)
    for c in sorted({os.path.dirname(rel) for rel, _ in files}):
        os.makedirs(os.path.join(root, c), exist_ok=True)
    start = time.perf_counter()
    with multiprocessing.Pool(os.cpu_count()) as pool:
        sizes = pool.map(write, [(root, i, rel, kind) for i, (rel, kind) in enumerate(files)], chunksize=16)
    kinds = {k: sum(1 for _, kind in files if kind == k) for k in ('rgb', 'cmyk', 'grey', 'png')}
    print(json.dumps({'root': root, 'count': count, 'written': count, 'kinds': kinds, 'meanKB': round(sum(sizes) / count / 1024, 1), 'seconds': round(time.perf_counter() - start, 1)}))


if __name__ == '__main__':
    main()
