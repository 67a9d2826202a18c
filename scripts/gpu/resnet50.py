"""PyTorch side of the GPU training benchmark: pre-activation ResNet training steps (SGD momentum,
synthetic data, bfloat16 autocast, channels-last), images/s.
Usage: python resnet50.py DEVICE BATCH SIZE STEPS   (prints one JSON line)
Environment: DEPTH (50; 18 for the CIFAR case), INPUT (imagenet | cifar), COMPILE=1 (the model
through torch.compile, default mode; its compile time is reported, not timed).
pipeline.py trains the same model with the same step (model_and_step)."""
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'golden'))
from models import PreActResNet  # noqa: E402


def model_and_step(device, depth=50, imagenet=True, compiled=False):
    """The seeded model (channels-last, train mode) and step(x, y): one SGD step under autocast."""
    torch.manual_seed(0)
    torch.backends.cudnn.benchmark = True
    model = PreActResNet(depth, 'mod', 1000 if imagenet else 10, imagenet).to(device).to(memory_format=torch.channels_last).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    forward = torch.compile(model) if compiled else model
    autocast = torch.autocast(device_type=device.split(':')[0], dtype=torch.bfloat16)

    def step(x, y):
        opt.zero_grad(set_to_none=True)
        with autocast:
            out = forward(x)
        F.cross_entropy(out.float(), y).backward()
        opt.step()

    return model, step


def main():
    device, batch, size, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    depth, imagenet = int(os.environ.get('DEPTH', 50)), os.environ.get('INPUT', 'imagenet') == 'imagenet'
    compiled = os.environ.get('COMPILE') == '1'
    _, step = model_and_step(device, depth, imagenet, compiled)
    x = torch.randn(batch, 3, size, size, device=device).to(memory_format=torch.channels_last)
    y = torch.randint(0, 1000 if imagenet else 10, (batch,), device=device)
    sync = torch.cuda.synchronize if device.startswith('cuda') else (lambda: None)
    compile_start = time.perf_counter()
    for _ in range(3):
        step(x, y)
    sync()
    warmup_seconds = time.perf_counter() - compile_start
    start = time.perf_counter()
    for _ in range(steps):
        step(x, y)
    sync()
    print(json.dumps({'imagesPerSecond': batch * steps / (time.perf_counter() - start), 'depth': depth, 'compiled': compiled,
                      'warmupSeconds': warmup_seconds}))


if __name__ == '__main__':
    main()
