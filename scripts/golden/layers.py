"""Golden files for the layers Conv1d, LeakyReLU, Softmax, LogSoftmax and Embedding, and for
optimiser parameter groups.

Layers: for each case, from torch.manual_seed(seed), builds the layer (float32, PyTorch's default
initialisation) and records its initial parameters; then, in float64, the output for a seeded
input, and the gradients of sum(output * cotangent) with respect to the input (floating inputs)
and to every parameter. test/23-layers-groups.test.ts builds the same layer under the same name
with skipnorm from the same seed and compares.

Optimisers: a small model (Conv1d, LeakyReLU, BatchNorm1d, Flatten, Linear, LogSoftmax) from a
seed, in float64, trained 5 steps on one seeded batch by
  - SGD with momentum and weight decay in three parameter groups (no decay on biases and 1-d
    parameters; another lr and momentum for the last Linear's weight), by hand: zero_grad,
    nll_loss, backward, step;
  - AdamW in two parameter groups (no decay and another lr for biases and norms) with StepLR
    stepped every step, as skipnorm's fit runs it: its loss is the cross-entropy of the output
    cast to float32.
After every step each parameter is recorded.

Everything compared is float64 (initial values aside, which are drawn in float32 as PyTorch does),
so the numbers do not depend on the processor beyond float64 rounding: the file is not computed
again per machine.

Writes test/golden/layers.json.
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from core import encode  # noqa: E402

torch.set_num_threads(2)

# name: (build, input shape, input kind): 'normal' or 'int:<high>' (indices in [0, high)).
LAYERS = {
    'conv1d': (lambda: nn.Conv1d(3, 4, 3), [2, 3, 10], 'normal'),
    'conv1d-options': (lambda: nn.Conv1d(4, 6, 3, stride=2, padding=2, dilation=2, groups=2, bias=False), [2, 4, 11], 'normal'),
    'conv1d-same': (lambda: nn.Conv1d(3, 2, 4, padding='same'), [2, 3, 9], 'normal'),
    'conv1d-valid-unbatched': (lambda: nn.Conv1d(3, 5, 2, padding='valid'), [3, 7], 'normal'),
    'leaky-relu': (lambda: nn.LeakyReLU(), [4, 5], 'normal'),
    'leaky-relu-0.2': (lambda: nn.LeakyReLU(0.2), [2, 3, 4], 'normal'),
    'softmax-1': (lambda: nn.Softmax(dim=1), [3, 5], 'normal'),
    'softmax-last': (lambda: nn.Softmax(dim=-1), [2, 3, 4], 'normal'),
    'log-softmax-0': (lambda: nn.LogSoftmax(dim=0), [4, 3], 'normal'),
    'embedding': (lambda: nn.Embedding(10, 4), [2, 5], 'int:10'),
    'embedding-padding': (lambda: nn.Embedding(8, 3, padding_idx=2), [3, 4], 'int:8'),
    'embedding-padding-last': (lambda: nn.Embedding(6, 3, padding_idx=-1), [7], 'int:6'),
}


def layer_case(index, build, shape, kind):
    seed = 100 + index
    torch.manual_seed(seed)
    layer = build()
    init = {n: encode(p) for n, p in layer.named_parameters()}
    layer = layer.double()
    rng = np.random.default_rng(seed)
    if kind == 'normal':
        x = torch.tensor(rng.standard_normal(shape), dtype=torch.float64, requires_grad=True)
    else:
        x = torch.tensor(rng.integers(0, int(kind.split(':')[1]), shape), dtype=torch.int64)
        # A row looked up three times (gradients add up): the padding row where there is one.
        x.view(-1)[:3] = layer.padding_idx if layer.padding_idx is not None else 1
    y = layer(x)
    cotangent = torch.tensor(rng.standard_normal(list(y.shape)), dtype=torch.float64)
    (y * cotangent).sum().backward()
    return {
        'seed': seed,
        'input': encode(x),
        'cotangent': encode(cotangent),
        'init': init,
        'output': encode(y),
        'input_grad': encode(x.grad) if x.is_floating_point() else None,
        'grads': {n: encode(p.grad) for n, p in layer.named_parameters()},
    }


class Model(nn.Sequential):
    def __init__(self):
        super().__init__(nn.Conv1d(3, 4, 3, padding=1), nn.LeakyReLU(0.1), nn.BatchNorm1d(4), nn.Flatten(), nn.Linear(32, 5), nn.LogSoftmax(dim=1))


OPTIM_SEED = 7
STEPS = 5


def optim_data():
    rng = np.random.default_rng(OPTIM_SEED)
    x = torch.tensor(rng.standard_normal([6, 3, 8]), dtype=torch.float64)
    y = torch.tensor(rng.integers(0, 5, 6), dtype=torch.int64)
    return x, y


def no_decay(name, p):
    return name.endswith('.bias') or p.dim() == 1


def sgd_groups(model):
    named = list(model.named_parameters())
    flat = [p for n, p in named if no_decay(n, p)]
    fc = [p for n, p in named if n == '4.weight']
    rest = [p for n, p in named if not no_decay(n, p) and n != '4.weight']
    return torch.optim.SGD([{'params': rest}, {'params': flat, 'weight_decay': 0}, {'params': fc, 'lr': 0.05, 'momentum': 0.5}],
                           lr=0.1, momentum=0.9, weight_decay=5e-4)


NORMS_AND_BIASES = ['0.bias', '2.weight', '2.bias', '4.bias']


def adamw_groups(model):
    named = list(model.named_parameters())
    return torch.optim.AdamW([{'params': [p for n, p in named if n not in NORMS_AND_BIASES]},
                              {'params': [p for n, p in named if n in NORMS_AND_BIASES], 'lr': 3e-3, 'weight_decay': 0}],
                             lr=1e-2, weight_decay=0.05)


def optim_case(make, loss_of, schedule):
    torch.manual_seed(OPTIM_SEED)
    model = Model().double().train()
    x, y = optim_data()
    opt = make(model)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5) if schedule else None
    params, losses, lrs = [], [], []
    for _ in range(STEPS):
        lrs.append([g['lr'] for g in opt.param_groups])
        opt.zero_grad()
        loss = loss_of(model(x), y)
        loss.backward()
        opt.step()
        if sched:
            sched.step()
        losses.append(loss.item())
        params.append({n: encode(p) for n, p in model.named_parameters()})
    return {'losses': losses, 'lrs': lrs, 'params': params}


def main():
    layers = {name: layer_case(i, *spec) for i, (name, spec) in enumerate(LAYERS.items())}
    x, y = optim_data()
    optim = {
        'sgd-groups': optim_case(sgd_groups, F.nll_loss, False),
        # fit's loss: cross-entropy of the output in float32 (the gradient flows back to float64).
        'adamw-groups-fit': optim_case(adamw_groups, lambda out, t: F.cross_entropy(out.float(), t), True),
    }
    out_dir = os.environ.get('SKIPNORM_GOLDEN_DIR') or os.path.join(os.path.dirname(__file__), '..', '..', 'test', 'golden')
    with open(os.path.join(out_dir, 'layers.json'), 'w') as f:
        json.dump({'torch': torch.__version__, 'layers': layers, 'optim_seed': OPTIM_SEED, 'steps': STEPS,
                   'optim_data': {'input': encode(x), 'labels': encode(y)}, 'optim': optim}, f, separators=(',', ':'))
    for name, case in optim.items():
        print(f'  {name}: loss {case["losses"][0]:.4f} -> {case["losses"][-1]:.4f}', file=sys.stderr)


if __name__ == '__main__':
    main()
