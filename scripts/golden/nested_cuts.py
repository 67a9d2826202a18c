"""Golden files for Jacobian spectra at nested cuts: the pre-activation ResNet-18 (CIFAR input,
shortcuts 'orig' and 'mod', both from seed 18) on a seeded batch of 4 inputs, at cuts inside the
model (a block, `layer2.1`; a downsampling block, `layer3.0`; a batch norm inside a block,
`layer2.1.bn2`) and at a top-level one (`layer2`). The cut's output becomes a free variable z
through a forward hook that returns z in its place, so whatever does not depend on it (the skip
connection around `layer2.1.bn2`) is a constant; then torch.autograd.functional.jacobian of the
whole model's output with respect to z (torch.func refuses batch norm's in-place buffer updates),
batch norm in train mode, float64, and torch.linalg.svdvals. Buffers are restored after each cut.
Writes test/golden/nested-cuts.json (float64, so not machine-dependent).
"""
import base64
import copy
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from models import PreActResNet  # noqa: E402

torch.set_num_threads(2)
HERE = os.path.dirname(__file__)
OUT_DIR = os.environ.get('SKIPNORM_GOLDEN_DIR') or os.path.join(HERE, '..', '..', 'test', 'golden')
SEED = 18
CUTS = ['layer2.1', 'layer3.0', 'layer2.1.bn2', 'layer2']


def spectrum_at(net, x, cut):
    module = net.get_submodule(cut)
    buffers = copy.deepcopy({k: v for k, v in net.named_buffers()})
    z0 = []
    handle = module.register_forward_hook(lambda m, inputs, out: z0.append(out.detach()))
    with torch.no_grad():
        net(x)
    handle.remove()

    def rest(z):
        handle = module.register_forward_hook(lambda m, inputs, out: z)
        try:
            return net(x)
        finally:
            handle.remove()

    jac = torch.autograd.functional.jacobian(rest, z0[0])
    with torch.no_grad():
        for k, v in net.named_buffers():
            v.copy_(buffers[k])
    return torch.linalg.svdvals(jac.reshape(x.shape[0] * 10, -1)), list(z0[0].shape)


def main():
    rng = np.random.default_rng(2024)
    x = torch.tensor(rng.standard_normal([4, 3, 32, 32]), dtype=torch.float32)
    out = {'torch': torch.__version__, 'seed': SEED, 'input': base64.b64encode(x.numpy().tobytes()).decode('ascii'), 'shape': list(x.shape), 'spectra': {}}
    for variant in ['orig', 'mod']:
        torch.manual_seed(SEED)
        net = PreActResNet(18, variant, 10, False).double().train()
        for cut in CUTS:
            values, shape = spectrum_at(net, x.double(), cut)
            out['spectra'][f'{variant}/{cut}'] = {'cutShape': shape, 'values': values.tolist()}
            print(f'  preact-resnet-18 {variant} at {cut}: sigma max {values[0]:.4f}, min {values[-1]:.3e}', file=sys.stderr)
    with open(os.path.join(OUT_DIR, 'nested-cuts.json'), 'w') as f:
        json.dump(out, f, separators=(',', ':'))


if __name__ == '__main__':
    main()
