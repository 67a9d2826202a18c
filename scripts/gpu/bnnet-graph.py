"""PyTorch side of the CUDA-graph benchmark: full-batch BNNet (c) training steps in eager mode
(SGD lr 0.1, PyTorch's default foreach update, zero_grad(set_to_none=True)), microseconds per step.
Usage: python bnnet-graph.py DEVICE BATCH STEPS   (prints one JSON line)"""
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'golden'))
from models import BNNet  # noqa: E402

device, batch, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
torch.manual_seed(0)
model = BNNet('c').to(device).train()
opt = torch.optim.SGD(model.parameters(), lr=0.1)
x = torch.rand(batch, 1, 28, 28, device=device)
y = torch.randint(0, 10, (batch,), device=device)
sync = torch.cuda.synchronize if device.startswith('cuda') else (lambda: None)


def run(n):
    sync()
    start = time.perf_counter()
    for _ in range(n):
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()
    sync()
    return time.perf_counter() - start


run(20)
short = run(steps // 5)
long = run(steps + steps // 5)
print(json.dumps({'eagerUs': (long - short) / steps * 1e6}))
