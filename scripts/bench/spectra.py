"""Baseline for scripts/bench/spectra.js: the paper's probe as mnist.py takes it
(torch.autograd.functional.jacobian of the layers after the stem, then svdvals), for BNNet (c) and
32 images. Usage: spectra.py THREADS [DEVICE] (the GPU script passes cuda:0). Prints JSON {name: ms}."""
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'golden'))
from models import BNNet  # noqa: E402

torch.set_num_threads(int(sys.argv[1]))
device = sys.argv[2] if len(sys.argv) > 2 else 'cpu'
sync = torch.cuda.synchronize if device.startswith('cuda') else (lambda: None)
torch.manual_seed(0)
net = BNNet('c').to(device).train()
x = torch.rand(32, 1, 28, 28).to(device)
z = F.avg_pool2d(net.conv(x), 2).detach()


def probe():
    jac = torch.autograd.functional.jacobian(lambda h: net.lin(F.relu(net.bn(net.Block2(net.Block1(h))))), z)
    return torch.linalg.svdvals(jac.reshape(320, -1))


probe()
best = float('inf')
for _ in range(3):
    sync()
    start = time.perf_counter()
    for _ in range(3):
        probe()
    sync()
    best = min(best, (time.perf_counter() - start) / 3)
print(json.dumps({'exact BNNet probe at the stem (32 images, 320 values)': best * 1e3}))
