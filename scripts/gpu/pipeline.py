"""PyTorch side of the end-to-end ImageNet input-pipeline benchmark (as pipeline.js), in images/s:
torchvision's ImageFolder over the JPEGs of make-jpegs.py with RandomResizedCrop(224),
RandomHorizontalFlip, ToTensor and Normalize, in a DataLoader of WORKERS worker processes
(pin_memory, persistent workers, shuffled, drop_last); the loader alone, then the pre-activation
ResNet-50 of resnet50.py (the same step: SGD momentum, bfloat16 autocast, channels-last) trained
from it, and the same training on random tensors already on the device.
Each rate is over STEPS batches after WARMUP (default 14: one batch per worker of a 14-worker
loader, so that its pipeline is full); the synthetic steps come first, so that cuDNN's autotuning
is done before the loader starts.
Usage: python pipeline.py DEVICE ROOT BATCH STEPS WORKERS   (prints one JSON line)
SIZE=64 WARMUP=1 shrink the crops and the warm-up for a run on a CPU. Without torchvision it
prints a JSON line saying so and exits 0.
"""
import json
import math
import os
import sys
import time

import torch

from resnet50 import model_and_step


def main():
    device, root = sys.argv[1], sys.argv[2]
    batch, steps, workers = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    size = int(os.environ.get('SIZE', 224))
    warmup = int(os.environ.get('WARMUP', 14))
    try:
        from torchvision import datasets, transforms
    except Exception as e:  # missing, or a wheel built for another torch
        print(json.dumps({'skipped': f'torchvision is not importable here ({type(e).__name__}: {e})'}))
        return
    cuda = device.startswith('cuda')
    sync = torch.cuda.synchronize if cuda else (lambda: None)

    # Synthetic first: the reference rate, and cuDNN's autotuning for the loader's batch shapes.
    _, step = model_and_step(device)
    x = torch.randn(batch, 3, size, size, device=device).to(memory_format=torch.channels_last)
    y = torch.randint(0, 1000, (batch,), device=device)
    for k in range(warmup + steps):
        if k == warmup:
            sync()
            start = time.perf_counter()
        step(x, y)
    sync()
    synthetic = batch * steps / (time.perf_counter() - start)
    del x, y

    folder = datasets.ImageFolder(root, transform=transforms.Compose([
        transforms.RandomResizedCrop(size),
        transforms.RandomHorizontalFlip(),
        transforms.ToTensor(),
        transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
    ]))
    # The folder repeated so that one epoch holds the whole run: a new epoch restarts the workers'
    # prefetching from empty, a stall a small folder's 20-batch epochs would put into the timed
    # window every few seconds and that ImageNet's 5,000-batch epochs spread thin.
    needed = (warmup + steps + 2 * workers) * batch
    repeated = torch.utils.data.ConcatDataset([folder] * math.ceil(needed / len(folder)))
    loader = torch.utils.data.DataLoader(repeated, batch_size=batch, shuffle=True, drop_last=True, num_workers=workers,
                                         pin_memory=cuda, persistent_workers=workers > 0)

    # The loader alone: pinned batches handed over on the host (no copy to the device).
    batches = iter(loader)
    for k in range(warmup + steps):
        if k == warmup:
            start = time.perf_counter()
        next(batches)
    loader_alone = batch * steps / (time.perf_counter() - start)
    del batches

    # Training from it, on a fresh pass (the workers kept): no batches made ahead while idle.
    batches = iter(loader)
    for k in range(warmup + steps):
        if k == warmup:
            sync()
            start = time.perf_counter()
        images, labels = next(batches)
        images = images.to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)
        step(images, labels.to(device, non_blocking=True))
    sync()
    trained = batch * steps / (time.perf_counter() - start)
    del batches

    print(json.dumps({'device': device, 'batch': batch, 'size': size, 'steps': steps, 'warmup': warmup, 'workers': workers,
                      'prefetchFactor': loader.prefetch_factor, 'pinMemory': loader.pin_memory, 'images': len(folder), 'syntheticFit': synthetic, 'folderLoader': loader_alone,
                      'folderFit': trained}))


if __name__ == '__main__':
    main()
