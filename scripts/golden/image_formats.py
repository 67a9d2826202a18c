"""Golden files for every kind of image file ImageNet (and real folders) hold, written by PIL into
test/golden/formats/, with what PIL's convert('RGB') makes of each (as torchvision's ImageFolder
loads them) in test/golden/formats.json:
  CMYK JPEG (Adobe's inverted inks, as Photoshop and PIL write them), YCCK JPEG (the same file
  with Adobe's transform flag set to YCCK), greyscale and progressive JPEGs, palette PNG with a
  transparent entry, RGBA and grey + alpha PNGs, interlaced PNG, 16-bit grey and 16-bit RGB PNGs,
  and a PNG named .JPEG.
16-bit files are expected scaled to 8 bits (their high byte): PIL's convert clips 16-bit grey at
255 instead, which would make nearly every pixel white. Also writes extreme.png, a 1 x 1,000,000
strip of a few hundred bytes that a loader must refuse cheaply.
"""
import json
import os
import struct
import zlib

import numpy as np
from PIL import Image

ROOT = os.path.join(os.path.dirname(__file__), '..', '..', 'test', 'golden')
OUT = os.path.join(ROOT, 'formats')


def smooth(rng, h, w, channels, peak=255):
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.zeros((h, w, channels))
    for c in range(channels):
        a, b, p = rng.uniform(-2, 2, 3)
        img[..., c] = 0.5 + 0.25 * np.sin(a * x / w * 3 + p) + 0.2 * np.cos(b * y / h * 3)
    img += rng.normal(0, 0.02, img.shape)
    return np.clip(np.round(img * peak), 0, peak)


def png_chunk(kind, data):
    return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data) & 0xFFFFFFFF)


def write_rgb16_png(path, array):
    """PIL cannot write 16-bit RGB: a minimal PNG writer (filter 0 on every row)."""
    h, w, _ = array.shape
    raw = b''.join(b'\x00' + array[y].astype('>u2').tobytes() for y in range(h))
    ihdr = struct.pack('>IIBBBBB', w, h, 16, 2, 0, 0, 0)
    with open(path, 'wb') as f:
        f.write(b'\x89PNG\r\n\x1a\n' + png_chunk(b'IHDR', ihdr) + png_chunk(b'IDAT', zlib.compress(raw, 9)) + png_chunk(b'IEND', b''))


def as_ycck(jpeg):
    """A CMYK JPEG with Adobe's marker, its transform flag set to 2 (YCCK): decoders then read the
    first three components as YCbCr of the inks, a valid YCCK file."""
    at = jpeg.index(b'Adobe')
    flag = at + 11  # 'Adobe', version (2), flags0 (2), flags1 (2), transform (1)
    assert jpeg[flag] == 0, 'expected a CMYK Adobe marker'
    return jpeg[:flag] + b'\x02' + jpeg[flag + 1:]


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(11)
    rgb = smooth(rng, 30, 41, 3).astype(np.uint8)
    files = {}

    def save(name, image, **options):
        image.save(os.path.join(OUT, name), **options)

    save('cmyk.jpg', Image.fromarray(rgb).convert('CMYK'), format='JPEG', quality=92)
    with open(os.path.join(OUT, 'cmyk.jpg'), 'rb') as f:
        cmyk = f.read()
    with open(os.path.join(OUT, 'ycck.jpg'), 'wb') as f:
        f.write(as_ycck(cmyk))
    save('gray.jpg', Image.fromarray(smooth(rng, 27, 35, 1)[..., 0].astype(np.uint8)), format='JPEG', quality=90)
    save('progressive.jpg', Image.fromarray(smooth(rng, 33, 45, 3).astype(np.uint8)), format='JPEG', quality=90, progressive=True)
    palette = Image.fromarray(smooth(rng, 26, 31, 3).astype(np.uint8)).convert('P', palette=Image.ADAPTIVE, colors=40)
    save('palette.png', palette, format='PNG', transparency=0)
    save('rgba.png', Image.fromarray(np.concatenate([smooth(rng, 25, 29, 3), smooth(rng, 25, 29, 1)], axis=2).astype(np.uint8), 'RGBA'), format='PNG')
    save('gray-alpha.png', Image.fromarray(smooth(rng, 22, 19, 2).astype(np.uint8), 'LA'), format='PNG')
    save('interlaced.png', Image.fromarray(smooth(rng, 21, 34, 3).astype(np.uint8)), format='PNG', interlace=1)
    gray16 = smooth(rng, 23, 28, 1, peak=65535)[..., 0].astype(np.uint16)
    save('gray16.png', Image.fromarray(gray16), format='PNG')
    rgb16 = smooth(rng, 19, 24, 3, peak=65535).astype(np.uint16)
    write_rgb16_png(os.path.join(OUT, 'rgb16.png'), rgb16)
    save('png-named.JPEG', Image.fromarray(smooth(rng, 20, 26, 3).astype(np.uint8)), format='PNG')

    for name in sorted(os.listdir(OUT)):
        if name == 'extreme.png':
            continue
        img = Image.open(os.path.join(OUT, name))
        mode = img.mode
        if name == 'gray16.png':
            assert mode.startswith('I'), mode
            pixels = np.repeat((np.asarray(img).astype(np.uint32) >> 8).astype(np.uint8)[..., None], 3, axis=2)
        else:
            pixels = np.asarray(img.convert('RGB'), dtype=np.uint8)
        files[name] = {'mode': mode, 'shape': list(pixels.shape), 'pixels': pixels.reshape(-1).tolist()}
    assert files['cmyk.jpg']['mode'] == 'CMYK' and files['ycck.jpg']['mode'] == 'CMYK' and files['palette.png']['mode'] == 'P'

    Image.new('L', (1_000_000, 1)).save(os.path.join(OUT, 'extreme.png'), format='PNG', optimize=True)
    with open(os.path.join(ROOT, 'formats.json'), 'w') as f:
        json.dump({'pillow': Image.__version__, 'files': files}, f)


if __name__ == '__main__':
    main()
