"""Golden files for spectra: BNNet's later-layer Jacobian spectrum at the stem, as the paper's
mnist.py measures it (torch.autograd.functional.jacobian of the layers after the stem, batch norm
in train mode, then svdvals), in float64, for each variant from the same initial weights (seed 0)
and a seeded batch of 32 inputs in [0, 1). Writes test/golden/spectra.json.
"""
import base64
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from models import BNNet  # noqa: E402

torch.set_num_threads(2)


def main():
    rng = np.random.default_rng(2023)
    x = torch.tensor(rng.uniform(0, 1, [32, 1, 28, 28]), dtype=torch.float32)
    out = {'torch': torch.__version__, 'input': base64.b64encode(x.numpy().tobytes()).decode('ascii'), 'shape': list(x.shape), 'variants': {}}
    for variant in 'abc':
        torch.manual_seed(0)
        net = BNNet(variant).double().train()
        z = F.avg_pool2d(net.conv(x.double()), 2).detach()

        def rest(h):
            return net.lin(F.relu(net.bn(net.Block2(net.Block1(h)))))

        jac = torch.autograd.functional.jacobian(rest, z).reshape(320, -1)
        values = torch.linalg.svdvals(jac)
        out['variants'][variant] = values.tolist()
        print(f'  BNNet ({variant}): sigma max {values[0]:.4f}, min {values[-1]:.3e}, share < 0.5: {(values < 0.5).double().mean():.3f}', file=sys.stderr)
    with open(os.path.join(os.path.dirname(__file__), '..', '..', 'test', 'golden', 'spectra.json'), 'w') as f:
        json.dump(out, f, separators=(',', ':'))


if __name__ == '__main__':
    main()
