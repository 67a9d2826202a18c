"""PyTorch side of the data benchmark: torchvision's PIL pipeline for ImageNet training
(decode, RandomResizedCrop(224), RandomHorizontalFlip, ToTensor, Normalize) on generated
500x375 JPEGs (quality 90) and on the same images packed at 256x256 by `skipnorm data pack`
(read here with numpy: the same decoded pixels, no decoding), on one thread into batches of 32
in plain [N, C, H, W] and channels-last [N, H, W, C] layouts (each image written into a batch
array made once, as skipnorm's loader does); and JPEGs in a pool of worker processes with one
thread each (as DataLoader's workers). torchvision's transforms on PIL images are these PIL calls
(its wheel in the local mirror is CUDA-only and does not import beside the CPU torch).
`--prepare` only writes the JPEGs (into $TMPDIR/skipnorm-bench-jpeg/a/). Prints microseconds
per image.
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


MEAN_NP = np.array([0.485, 0.456, 0.406], np.float32)
STD_NP = np.array([0.229, 0.224, 0.225], np.float32)
SCALE, SHIFT = 1 / (255 * STD_NP), -MEAN_NP / STD_NP
BATCH = 32


def augment(img):
    i, j, h, w = random_resized_crop_params(*img.size)
    img = img.crop((j, i, j + w, i + h)).resize((224, 224), Image.BILINEAR)
    if random.random() < 0.5:
        img = img.transpose(Image.FLIP_LEFT_RIGHT)
    return img


def pipeline(path):
    img = augment(Image.open(path).convert('RGB'))
    t = torch.from_numpy(np.asarray(img, dtype=np.uint8).copy()).permute(2, 0, 1).float().div(255)
    return (t - MEAN) / STD


def store(img, batch, k, channels_last):
    """ToTensor + Normalize of one image into slot k of the batch array: a multiply and an add
    per channel, in place (the fastest of the numpy forms tried, for both layouts)."""
    pixels = np.asarray(img)
    for c in range(3):
        out = batch[k, ..., c] if channels_last else batch[k, c]
        np.multiply(pixels[..., c], SCALE[c], out=out)
        out += SHIFT[c]


def batches(images, count, channels_last):
    """Images (callables giving a PIL image) through the pipeline into batches of 32; us per image."""
    shape = (BATCH, 224, 224, 3) if channels_last else (BATCH, 3, 224, 224)
    batch = np.empty(shape, np.float32)
    start = time.perf_counter()
    for n in range(count):
        store(augment(images(n)), batch, n % BATCH, channels_last)
        if n % BATCH == BATCH - 1:
            torch.from_numpy(batch)  # handed over as a tensor without a copy
    return (time.perf_counter() - start) / count * 1e6


def packed_images(path):
    """The packed file's images as one numpy array [N, H, W, C] (memory-mapped)."""
    with open(path, 'rb') as f:
        assert f.read(8) == b'SNPACK01'
        length = int.from_bytes(f.read(8), 'little')
        header = json.loads(f.read(length))
    align = lambda x: (x + 63) // 64 * 64
    at = align(align(16 + length) + 8 * header['count'])
    shape = (header['count'], header['height'], header['width'], header['channels'])
    return np.memmap(path, np.uint8, 'r', offset=at, shape=shape)


def init_worker():
    torch.set_num_threads(1)


def main():
    if sys.argv[1] == '--prepare':
        make_files()
        print('{}')
        return
    threads = int(sys.argv[1])
    torch.set_num_threads(1)
    random.seed(0)
    files = make_files()
    packed = packed_images(os.path.join(ROOT, 'packed-256.snpack'))
    result = {}
    for layout, channels_last in (('plain', False), ('channels-last', True)):
        jpeg = lambda n: Image.open(files[n % len(files)]).convert('RGB')
        batches(jpeg, BATCH, channels_last)  # warm
        result[f'JPEG 500x375 to random resized crop 224 + flip + normalise, 1 thread, {layout}'] = batches(jpeg, 2 * len(files), channels_last)
        from_packed = lambda n: Image.fromarray(packed[n % len(packed)])
        batches(from_packed, BATCH, channels_last)
        result[f'packed 256x256 to random resized crop 224 + flip + normalise, 1 thread, {layout}'] = batches(from_packed, 4 * len(files), channels_last)
    with multiprocessing.Pool(threads, initializer=init_worker) as pool:
        pool.map(pipeline, files[:threads * 4], chunksize=1)  # workers started and warm
        start = time.perf_counter()
        for _ in pool.imap_unordered(pipeline, files * 2, chunksize=8):
            pass
        result[f'JPEG 500x375 to random resized crop 224 + flip + normalise, {threads} threads'] = (time.perf_counter() - start) / (2 * len(files)) * 1e6
    print(json.dumps(result))


if __name__ == '__main__':
    main()
