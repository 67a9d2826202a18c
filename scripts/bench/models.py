"""Baseline for scripts/bench/models.js: forward + backward + zero_grad of the paper's models in
PyTorch (definitions shared with the golden files). Prints JSON {name: milliseconds per step}."""
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'golden'))
from models import BNNet, PreActResNet  # noqa: E402

torch.set_num_threads(int(sys.argv[1]))
torch.manual_seed(0)

CASES = {
    'BNNet (c), batch 32, 28x28': (lambda: BNNet('c'), [32, 1, 28, 28], 10, 200),
    'pre-act ResNet-18 (mod), batch 128, 32x32': (lambda: PreActResNet(18, 'mod', 10, False), [128, 3, 32, 32], 10, 3),
}

out = {}
for name, (build, shape, classes, steps) in CASES.items():
    model = build().train()
    x = torch.randn(shape)
    y = torch.randint(0, classes, [shape[0]])

    def step():
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        model.zero_grad(set_to_none=True)

    step()
    best = float('inf')
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(steps):
            step()
        best = min(best, (time.perf_counter() - start) / steps)
    out[name] = best * 1e3
print(json.dumps(out))
