"""Baseline for scripts/bench/train.js: a plain PyTorch training loop (zero_grad, forward,
cross-entropy, backward, SGD step, loss.item()) on fixed data. Prints JSON {name: ms per step}."""
import json
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'golden'))
from models import BNNet, PreActResNet  # noqa: E402

torch.set_num_threads(int(sys.argv[1]))
torch.manual_seed(0)


def mlp():
    layers = [nn.Flatten(), nn.Linear(784, 256), nn.ReLU()]
    for _ in range(6):
        layers += [nn.Linear(256, 256), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(256, 10))


CASES = {
    'full-batch BNNet (c), 32 images': (lambda: BNNet('c'), [32, 1, 28, 28], 300),
    'MLP 784-256x7-10, batch 128': (mlp, [128, 1, 28, 28], 300),
    'pre-act ResNet-18 (mod), batch 128, 32x32': (lambda: PreActResNet(18, 'mod', 10, False), [128, 3, 32, 32], 4),
}

out = {}
for name, (build, shape, steps) in CASES.items():
    model = build().train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(shape)
    y = torch.randint(0, 10, [shape[0]])

    def run(n):
        for _ in range(n):
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            loss.item()

    run(max(1, steps // 10))
    best = float('inf')
    for _ in range(2):
        start = time.perf_counter()
        run(steps)
        best = min(best, (time.perf_counter() - start) / steps)
    out[name] = best * 1e3
print(json.dumps(out))
