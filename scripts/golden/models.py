"""Golden files for the model zoo, computed by PyTorch.

The networks are defined here from PAPER.md (BNNet of the authors' mnist.py; the pre-activation
ResNets in the layout of their resnet_mods.py; the standard ResNets in torchvision's layout), with
PyTorch's default initialisation drawn after torch.manual_seed(seed), exactly as skipnorm's zoo
draws after manualSeed(seed). For each model and variant, from the same seed:
  - init: per-parameter and per-buffer sum and sum of squares (float64) of the initial state;
  - a train-mode forward of a seeded batch (logits), the gradient of sum(logits * cotangent)
    for every parameter, and the running statistics after that pass;
  - an eval-mode forward of the same batch afterwards.
Small tensors are stored whole; large gradients as their norm and their dot product with the
probe cos(0.7 * i) over the flattened index i (test/10-models-golden.test.ts does the same).
Every float32 record also has a `spread`: how far it is from the same pass in float64 (the
relative error of a whole tensor; the absolute differences of a norm and a probe), i.e. PyTorch's
own float32 rounding, which the test allows a multiple of (another processor rounds differently).

It also writes, for the safetensors tests, BNNet's initial weights (seed 0) and a file with a
tensor of every dtype, both through Python's safetensors.

Writes test/golden/models.json, test/golden/bnnet-seed0.safetensors, test/golden/dtypes.safetensors.
"""

import base64
import copy
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

torch.set_num_threads(2)
HERE = os.path.dirname(__file__)
OUT_DIR = os.environ.get('SKIPNORM_GOLDEN_DIR') or os.path.join(HERE, '..', '..', 'test', 'golden')
WHOLE_LIMIT = 16  # in the ResNets, tensors up to this many elements are stored whole (BNNet: all)


# ---- BNNet ---------------------------------------------------------------------------------------

class BNNetBlock1(nn.Module):
    def __init__(self, skip):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(5)
        self.lin1 = nn.Conv2d(5, 5, 5, 1, 2)
        self.bn2 = nn.BatchNorm2d(5)
        self.lin2 = nn.Conv2d(5, 5, 5, 1, 2)
        self.skip = skip

    def forward(self, x):
        branch = self.lin2(F.relu(self.bn2(self.lin1(F.relu(self.bn1(x))))))
        return x + branch if self.skip else branch


class BNNetBlock2(nn.Module):
    def __init__(self, kind):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(5)
        self.cproj = nn.Conv2d(5, 20, 1, 3)
        self.lin1 = nn.Conv2d(5, 20, 3, 2, 1)
        self.bn2 = nn.BatchNorm2d(20)
        self.lin2 = nn.Conv2d(20, 20, 3, 1)
        self.kind = kind

    def forward(self, x):
        h = F.relu(self.bn1(x))
        out = self.lin2(F.relu(self.bn2(self.lin1(h))))
        if self.kind == 'projection':
            out = out + self.cproj(h)
        elif self.kind == 'identity+projection':
            out = out + (F.pad(3 * F.avg_pool2d(h, 3, 3), (0, 0, 0, 0, 7, 8)) + self.cproj(h))
        return out.flatten(1)


class BNNet(nn.Module):
    KINDS = {'a': (False, 'none'), 'b': (True, 'projection'), 'c': (True, 'identity+projection')}

    def __init__(self, variant):
        super().__init__()
        skip, kind = self.KINDS[variant]
        self.conv = nn.Conv2d(1, 5, 5, 1)
        self.Block1 = BNNetBlock1(skip)
        self.Block2 = BNNetBlock2(kind)
        self.bn = nn.BatchNorm1d(320)
        self.lin = nn.Linear(320, 10)

    def forward(self, x):
        out = F.avg_pool2d(self.conv(x), 2)
        return self.lin(F.relu(self.bn(self.Block2(self.Block1(out)))))


# ---- pre-activation ResNets (resnet_mods.py layout) -----------------------------------------------

class IdentityLikeConv(nn.Module):
    """A 1x1 projection named `conv`, plus (in 'mod') the identity-like path."""

    def __init__(self, mod, cin, cout, stride):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 1, stride, bias=False)
        self.mod, self.cin, self.cout, self.stride = mod, cin, cout, stride

    def forward(self, x):
        if not self.mod:
            return self.conv(x)
        extra = self.cout - self.cin
        path = self.stride * F.avg_pool2d(x, self.stride, self.stride)
        path = F.pad(path, (0, 0, 0, 0, math.ceil(extra / 2), math.floor(extra / 2)))
        return path + self.conv(x)


class PreActBlock(nn.Module):
    expansion = 1

    def __init__(self, variant, cin, planes, stride):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.variant = variant
        if stride != 1 or cin != planes:
            self.shortcut = nn.Sequential(IdentityLikeConv(variant == 'mod', cin, planes, stride))

    def branch(self, h):
        return self.conv2(F.relu(self.bn2(self.conv1(h))))

    def forward(self, x):
        h = F.relu(self.bn1(x))
        out = self.branch(h)
        if self.variant == 'none':
            return out
        return out + (self.shortcut(h) if hasattr(self, 'shortcut') else x)


class PreActBottleneck(PreActBlock):
    expansion = 4

    def __init__(self, variant, cin, planes, stride):
        nn.Module.__init__(self)
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, planes, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, 4 * planes, 1, bias=False)
        self.variant = variant
        if stride != 1 or cin != 4 * planes:
            self.shortcut = nn.Sequential(IdentityLikeConv(variant == 'mod', cin, 4 * planes, stride))

    def branch(self, h):
        out = self.conv2(F.relu(self.bn2(self.conv1(h))))
        return self.conv3(F.relu(self.bn3(out)))


DEPTHS = {18: (False, [2, 2, 2, 2]), 34: (False, [3, 4, 6, 3]), 50: (True, [3, 4, 6, 3]),
          101: (True, [3, 4, 23, 3]), 152: (True, [3, 8, 36, 3])}


class PreActResNet(nn.Module):
    def __init__(self, depth, variant, classes, imagenet):
        super().__init__()
        bottleneck, blocks = DEPTHS[depth]
        block = PreActBottleneck if bottleneck else PreActBlock
        self.imagenet = imagenet
        if imagenet:
            self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
        else:
            self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        cin = 64
        for stage, planes in enumerate([64, 128, 256, 512]):
            layers = []
            for i in range(blocks[stage]):
                layers.append(block(variant, cin, planes, 2 if i == 0 and stage > 0 else 1))
                cin = planes * block.expansion
            setattr(self, f'layer{stage + 1}', nn.Sequential(*layers))
        if imagenet:
            self.bn = nn.BatchNorm2d(cin)
        self.linear = nn.Linear(cin, classes)

    def forward(self, x):
        out = self.conv1(x)
        if self.imagenet:
            out = F.max_pool2d(F.relu(self.bn1(out)), 3, 2, 1)
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        if self.imagenet:
            out = F.adaptive_avg_pool2d(F.relu(self.bn(out)), 1)
        else:
            out = F.avg_pool2d(out, 4)
        return self.linear(out.flatten(1))


# ---- standard ResNets (torchvision layout) --------------------------------------------------------

class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin, planes, stride, downsample, skip):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.skip = skip

    def branch(self, x):
        return self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))

    def forward(self, x):
        out = self.branch(x)
        if self.skip:
            out = out + (self.downsample(x) if self.downsample is not None else x)
        return self.relu(out)


class Bottleneck(BasicBlock):
    expansion = 4

    def __init__(self, cin, planes, stride, downsample, skip):
        nn.Module.__init__(self)
        self.conv1 = nn.Conv2d(cin, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.skip = skip

    def branch(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.bn3(self.conv3(out))


class ResNet(nn.Module):
    def __init__(self, depth, classes, skip):
        super().__init__()
        bottleneck, blocks = DEPTHS[depth]
        block = Bottleneck if bottleneck else BasicBlock
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        cin = 64
        for stage, planes in enumerate([64, 128, 256, 512]):
            layers = []
            for i in range(blocks[stage]):
                stride = 2 if i == 0 and stage > 0 else 1
                downsample = None
                if stride != 1 or cin != planes * block.expansion:
                    downsample = nn.Sequential(nn.Conv2d(cin, planes * block.expansion, 1, stride, bias=False),
                                               nn.BatchNorm2d(planes * block.expansion))
                layers.append(block(cin, planes, stride, downsample, skip))
                cin = planes * block.expansion
            setattr(self, f'layer{stage + 1}', nn.Sequential(*layers))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')

    def forward(self, x):
        out = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        return self.fc(self.avgpool(out).flatten(1))


# ---- golden records -------------------------------------------------------------------------------

def encode(t):
    t = t.detach().cpu().contiguous()
    dtype = {torch.float32: 'float32', torch.float64: 'float64', torch.int64: 'int64'}[t.dtype]
    return {'dtype': dtype, 'shape': list(t.shape), 'data': base64.b64encode(t.numpy().tobytes()).decode('ascii')}


def probe(n):
    return torch.cos(0.7 * torch.arange(n, dtype=torch.float64))


def summarise(t, whole_limit, wide=None):
    """Whole when small; else norm and probe dot product (float64). With the float64 shadow `wide`,
    also the spread: relative error (whole), or absolute differences of norm and probe."""
    if t.numel() <= whole_limit:
        out = {'whole': encode(t)}
        if wide is not None:
            d, n = (t.detach().double() - wide.detach()).norm().item(), wide.detach().norm().item()
            out['spread'] = d / n if n > 0 else d
        return out
    flat = t.detach().double().flatten()
    out = {'shape': list(t.shape), 'norm': flat.norm().item(), 'probe': flat.dot(probe(flat.numel())).item()}
    if wide is not None:
        w = wide.detach().flatten()
        out['spread'] = [abs(out['norm'] - w.norm().item()), abs(out['probe'] - w.dot(probe(w.numel())).item())]
    return out


def relative_spread(t, wide):
    d, n = (t.detach().double() - wide.detach()).norm().item(), wide.detach().norm().item()
    return d / n if n > 0 else d


def state_stats(module):
    stats = {}
    for name, t in list(module.named_parameters()) + list(module.named_buffers()):
        d = t.detach().double()
        stats[name] = [d.sum().item(), (d * d).sum().item()]
    return stats


def passes(model, x, cotangent):
    """A train-mode forward and backward, then an eval-mode forward: logits, gradients, buffers."""
    model.train()
    out = model(x)
    (out * cotangent).sum().backward()
    grads = {n: p.grad for n, p in model.named_parameters()}
    buffers = dict(model.named_buffers())
    model.eval()
    with torch.no_grad():
        eval_out = model(x)
    return out, grads, buffers, eval_out


def record(name, build, seed, input_shape, whole_limit=WHOLE_LIMIT):
    torch.manual_seed(seed)
    model = build()
    wide_model = copy.deepcopy(model).double()  # the same initial weights, in float64
    init = state_stats(model)
    rng = np.random.default_rng(seed + 1000)
    x = torch.tensor(rng.standard_normal(input_shape), dtype=torch.float32)
    with torch.no_grad():
        out_shape = model.eval()(x[:1]).shape[1:]
    cotangent = torch.tensor(rng.standard_normal([input_shape[0], *out_shape]), dtype=torch.float32)
    out, grads, buffers, eval_out = passes(model, x, cotangent)
    wide_out, wide_grads, wide_buffers, wide_eval = passes(wide_model, x.double(), cotangent.double())
    summary = {n: (summarise(g, whole_limit, wide_grads[n]) if g is not None else None) for n, g in grads.items()}
    buffer_summary = {n: summarise(b, whole_limit, wide_buffers[n] if b.is_floating_point() else None) for n, b in buffers.items()}
    print(f'  {name}', file=sys.stderr)
    return {'seed': seed, 'input': encode(x), 'cotangent': encode(cotangent), 'init': init, 'train_output': encode(out),
            'grads': summary, 'buffers_after_train': buffer_summary, 'eval_output': encode(eval_out),
            'spread': {'train_output': relative_spread(out, wide_out), 'eval_output': relative_spread(eval_out, wide_eval)}}


def main():
    records = {}
    for variant in 'abc':
        records[f'bnnet-{variant}'] = record(f'bnnet-{variant}', lambda: BNNet(variant), 0, [32, 1, 28, 28], whole_limit=10**6)
    for depth in DEPTHS:
        for variant in ['orig', 'mod', 'none']:
            for kind, shape in [('cifar', [2, 3, 32, 32]), ('imagenet', [2, 3, 64, 64])]:
                name = f'preact-resnet-{depth}-{variant}-{kind}'
                records[name] = record(name, lambda: PreActResNet(depth, variant, 10, kind == 'imagenet'), depth, shape)
        for skip in [True, False]:
            name = f'resnet-{depth}-{"skip" if skip else "noskip"}'
            records[name] = record(name, lambda: ResNet(depth, 10, skip), depth + 1, [2, 3, 64, 64])
    with open(os.path.join(OUT_DIR, 'models.json'), 'w') as f:
        json.dump({'torch': torch.__version__, 'models': records}, f, separators=(',', ':'))

    torch.manual_seed(0)
    save_file({k: v.contiguous() for k, v in BNNet('a').state_dict().items()}, os.path.join(OUT_DIR, 'bnnet-seed0.safetensors'),
              metadata={'written_by': 'scripts/golden/models.py'})
    g = torch.Generator().manual_seed(5)
    base = torch.randn(2, 3, generator=g, dtype=torch.float64)
    save_file({'f64': base, 'f32': base.float(), 'f16': base.half(), 'bf16': base.bfloat16(),
               'i64': (base * 1000).long(), 'i32': (base * 1000).int(), 'i16': (base * 100).short(), 'i8': (base * 10).to(torch.int8),
               'u8': (base.abs() * 50).to(torch.uint8), 'bool': base > 0, 'empty': torch.zeros(0, 4), 'scalar': torch.tensor(3.5)},
              os.path.join(OUT_DIR, 'dtypes.safetensors'), metadata={'note': 'one tensor of every dtype'})
    print(f'wrote {len(records)} model records and two safetensors files to {os.path.relpath(OUT_DIR)}', file=sys.stderr)


if __name__ == '__main__':
    main()
