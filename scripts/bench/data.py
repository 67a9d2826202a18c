"""PyTorch side of the data benchmark: torchvision's PIL pipeline for ImageNet training
(decode, RandomResizedCrop(224), RandomHorizontalFlip, ToTensor, Normalize) on generated
500x375 JPEGs (quality 90), in one process, and in a pool of worker processes with one thread
each (as DataLoader's workers). torchvision's transforms on PIL images are these PIL calls (its
wheel in the local mirror is CUDA-only and does not import beside the CPU torch). Writes the
JPEGs on first use into $TMPDIR/skipnorm-bench-jpeg/a/. Prints microseconds per image.
"""
import json
import math
import multiprocessing
import os
import random
import sys
import tempfile
import time

import numpy as np
import torch
from PIL import Image

ROOT = os.path.join(tempfile.gettempdir(), 'skipnorm-bench-jpeg')
FILES = 256
MEAN = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)


def make_files():
    folder = os.path.join(ROOT, 'a')
    if os.path.isdir(folder) and len(os.listdir(folder)) == FILES:
        return sorted(os.path.join(folder, f) for f in os.listdir(folder))
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:375, 0:500].astype(np.float32)
    for i in range(FILES):
        img = np.zeros((375, 500, 3), np.float32)
        for c in range(3):
            a, b, p = rng.uniform(-3, 3, 3)
            img[..., c] = 128 + 60 * np.sin(a * x / 80 + p) + 50 * np.cos(b * y / 60)
        img += rng.normal(0, 12, img.shape)
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(os.path.join(folder, f'{i:04d}.jpg'), 'JPEG', quality=90)
    return make_files()


def random_resized_crop_params(width, height, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3)):
    """torchvision's RandomResizedCrop.get_params."""
    area = width * height
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        target = area * random.uniform(*scale)
        aspect = math.exp(random.uniform(*log_ratio))
        w, h = int(round(math.sqrt(target * aspect))), int(round(math.sqrt(target / aspect)))
        if 0 < w <= width and 0 < h <= height:
            return random.randint(0, height - h), random.randint(0, width - w), h, w
    return 0, 0, height, width


def pipeline(path):
    img = Image.open(path).convert('RGB')
    i, j, h, w = random_resized_crop_params(*img.size)
    img = img.crop((j, i, j + w, i + h)).resize((224, 224), Image.BILINEAR)
    if random.random() < 0.5:
        img = img.transpose(Image.FLIP_LEFT_RIGHT)
    t = torch.from_numpy(np.asarray(img, dtype=np.uint8).copy()).permute(2, 0, 1).float().div(255)
    return (t - MEAN) / STD


def init_worker():
    torch.set_num_threads(1)


def main():
    threads = int(sys.argv[1])
    torch.set_num_threads(1)
    random.seed(0)
    files = make_files()
    for f in files[:8]:
        pipeline(f)
    start = time.perf_counter()
    for f in files:
        pipeline(f)
    one = (time.perf_counter() - start) / len(files) * 1e6
    with multiprocessing.Pool(threads, initializer=init_worker) as pool:
        pool.map(pipeline, files[:threads * 4], chunksize=1)  # workers started and warm
        start = time.perf_counter()
        for _ in pool.imap_unordered(pipeline, files * 2, chunksize=8):
            pass
        every = (time.perf_counter() - start) / (2 * len(files)) * 1e6
    print(json.dumps({'decode + random resized crop 224 + flip + normalise, 1 thread': one,
                      f'decode + random resized crop 224 + flip + normalise, {threads} threads': every}))


if __name__ == '__main__':
    main()
