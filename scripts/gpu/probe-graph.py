"""PyTorch side of the graphed-probe benchmark: the paper's probe as mnist.py takes it
(torch.autograd.functional.jacobian of the layers after the stem, then svdvals, float32), for
BNNet (c) and 32 images, on DEVICE. Usage: python probe-graph.py DEVICE   (prints one JSON line, ms)"""
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'golden'))
from models import BNNet  # noqa: E402

device = sys.argv[1]
sync = torch.cuda.synchronize if device.startswith('cuda') else (lambda: None)
torch.manual_seed(0)
net = BNNet('c').to(device).train()
x = torch.rand(32, 1, 28, 28, device=device)
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
print(json.dumps({'referenceMs': best * 1e3}))
