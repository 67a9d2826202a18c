"""Golden files for the data layer: small images written by PIL (PNG, lossless, and JPEG) into
test/golden/data/, and what torchvision's PIL transforms make of them, in test/golden/data.json:
the decoded pixels (PIL's convert('RGB'), as ImageFolder loads), Resize (shorter side, and exact
[h, w]; torchvision calls PIL's resize with BILINEAR), CenterCrop (torchvision's rounding and zero
padding) and Normalize after ToTensor. torchvision itself is not imported: the only torchvision
wheel the package mirror has is built for CUDA and does not load beside the CPU torch, so the
same PIL calls torchvision makes are made here directly.
"""
import json
import os

import numpy as np
from PIL import Image

ROOT = os.path.join(os.path.dirname(__file__), '..', '..', 'test', 'golden')
OUT = os.path.join(ROOT, 'data')
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def smooth_image(rng, h, w, channels):
    """Gradients plus a few blobs plus noise: JPEG-like content, not white noise."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.zeros((h, w, channels))
    for c in range(channels):
        a, b, p = rng.uniform(-2, 2, 3)
        img[..., c] = 128 + 60 * np.sin(a * x / w * 3 + p) + 50 * np.cos(b * y / h * 3)
        for _ in range(3):
            cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(3, 10)
            img[..., c] += 40 * np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * r * r))
    img += rng.normal(0, 6, img.shape)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def resize(img, size):
    """torchvision.transforms.functional.resize on a PIL image (BILINEAR)."""
    w, h = img.size
    if isinstance(size, int):
        if w <= h:
            new_w, new_h = size, int(size * h / w)
        else:
            new_w, new_h = int(size * w / h), size
    else:
        new_h, new_w = size
    return img.resize((new_w, new_h), Image.BILINEAR)


def center_crop(img, size):
    """torchvision.transforms.functional.center_crop on a PIL image."""
    ch, cw = size
    w, h = img.size
    if cw > w or ch > h:
        left, top = (cw - w) // 2 if cw > w else 0, (ch - h) // 2 if ch > h else 0
        right, bottom = (cw - w + 1) // 2 if cw > w else 0, (ch - h + 1) // 2 if ch > h else 0
        padded = Image.new(img.mode, (w + left + right, h + top + bottom), 0)
        padded.paste(img, (left, top))
        img = padded
        w, h = img.size
    top, left = int(round((h - ch) / 2.0)), int(round((w - cw) / 2.0))
    return img.crop((left, top, left + cw, top + ch))


def pixels(img):
    return np.asarray(img, dtype=np.uint8).reshape(-1).tolist()


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(6)
    files = {
        'wide.png': (smooth_image(rng, 37, 53, 3), 'PNG'),
        'tall.png': (smooth_image(rng, 61, 29, 3), 'PNG'),
        'gray.png': (smooth_image(rng, 30, 40, 1)[..., 0], 'PNG'),
        'photo.jpg': (smooth_image(rng, 75, 100, 3), 'JPEG'),
    }
    cases = {}
    for name, (array, fmt) in files.items():
        path = os.path.join(OUT, name)
        Image.fromarray(array).save(path, fmt, **({'quality': 90} if fmt == 'JPEG' else {}))
        img = Image.open(path).convert('RGB')
        w, h = img.size
        r24 = resize(img, 24)
        crop = center_crop(r24, (20, 20))
        tensor = (np.asarray(crop, dtype=np.float32) / 255.0).transpose(2, 0, 1)
        normalized = (tensor - np.array(MEAN, dtype=np.float32)[:, None, None]) / np.array(STD, dtype=np.float32)[:, None, None]
        cases[name] = {
            'shape': [h, w, 3],
            'decoded': pixels(img),
            'resize24': {'shape': [r24.size[1], r24.size[0], 3], 'pixels': pixels(r24)},
            'resize17x29': {'shape': [17, 29, 3], 'pixels': pixels(resize(img, (17, 29)))},
            'resize24_centerCrop20': pixels(crop),
            'centerCropPadded': {'size': [h + 5, w + 6], 'pixels': pixels(center_crop(img, (h + 5, w + 6)))},
            # A flip before a padded crop (the padding mirrors too).
            'flipCenterCropPadded': pixels(center_crop(img.transpose(Image.FLIP_LEFT_RIGHT), (h + 5, w + 6))),
            # A crop then a resize up (both sides) and a mixed one (one side up, one down).
            'centerCrop15x20_resize26x33': pixels(resize(center_crop(img, (15, 20)), (26, 33))),
            'centerCrop15x20_resize40x9': pixels(resize(center_crop(img, (15, 20)), (40, 9))),
            'normalized': normalized.reshape(-1).tolist(),
        }
    with open(os.path.join(ROOT, 'data.json'), 'w') as f:
        json.dump({'pillow': Image.__version__, 'mean': MEAN, 'std': STD, 'cases': cases}, f)


if __name__ == '__main__':
    main()
