"""Baseline for scripts/bench/run.js: per-call time of small PyTorch ops and a 512x512 matmul.
Prints JSON {name: microseconds per call}. Same cases, sizes and method as core.js."""
import json
import sys
import time

import torch

torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else torch.get_num_threads())
torch.manual_seed(0)
a = torch.randn(4, 4)
b = torch.randn(4, 4)
x = torch.randn(16)
m1 = torch.randn(512, 512)
m2 = torch.randn(512, 512)

CASES = {
    'add (4x4 + 4x4)': (lambda: a + b, 20000),
    'mul by scalar (4x4 * 2.5)': (lambda: a * 2.5, 20000),
    'relu (16)': (lambda: torch.relu(x), 20000),
    'sum (4x4)': (lambda: a.sum(), 20000),
    'reshape (4x4 -> 16)': (lambda: a.reshape(16), 20000),
    'slice (x[2:10])': (lambda: x[2:10], 20000),
    'matmul (4x4 @ 4x4)': (lambda: a @ b, 20000),
    'matmul (512x512 @ 512x512)': (lambda: m1 @ m2, 50),
}


def bench(fn, n):
    for _ in range(min(n, 1000)):
        fn()
    best = float('inf')
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - start) / n)
    return best * 1e6


print(json.dumps({name: bench(fn, n) for name, (fn, n) in CASES.items()}))
