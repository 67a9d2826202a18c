"""Golden files for networks written by subclassing (examples/own-networks.js), computed by PyTorch.

The same networks as PyTorch modules, in float64 (so the numbers do not depend on the processor):
  - a DenseNet-style network (concatenating dense layers, a transition, holders of layers),
  - a ReZero network (x + alpha * f(x), alpha a learnable scalar per block),
  - a network with a long skip from its first stage to its last (a strided 1x1 projection),
each with its weights (stored whole), a seeded input, the train-mode logits and the gradient of
sum(logits * cotangent) for every parameter; and the pre-activation ResNet-18 (CIFAR, 'mod'
shortcuts) built after torch.manual_seed(0), which skipnorm's zoo draws identically: its logits,
its gradients (norm and probe dot product, as models.py) and the losses and a weight probe along
20 SGD steps (lr 0.002, momentum 0.9, cross-entropy) on a seeded batch.

Writes test/golden/traced.json.
"""

import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from models import PreActResNet, encode, probe  # noqa: E402

torch.set_num_threads(2)
OUT_DIR = os.environ.get('SKIPNORM_GOLDEN_DIR') or os.path.join(os.path.dirname(__file__), '..', '..', 'test', 'golden')


class DenseLayer(nn.Module):
    def __init__(self, cin, growth):
        super().__init__()
        self.bn = nn.BatchNorm2d(cin)
        self.conv = nn.Conv2d(cin, growth, 3, 1, 1, bias=False)

    def forward(self, x):
        return torch.cat([x, self.conv(F.relu(self.bn(x)))], 1)


class Transition(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.bn = nn.BatchNorm2d(cin)
        self.conv = nn.Conv2d(cin, cout, 1, bias=False)

    def forward(self, x):
        return F.avg_pool2d(self.conv(F.relu(self.bn(x))), 2)


class DenseNet(nn.Module):
    def __init__(self, growth=4, classes=10):
        super().__init__()
        self.stem = nn.Conv2d(1, 8, 3, 1, 1, bias=False)
        self.block1 = nn.ModuleList([DenseLayer(8, growth), DenseLayer(8 + growth, growth)])
        self.transition = Transition(8 + 2 * growth, 8)
        self.block2 = nn.ModuleList([DenseLayer(8, growth), DenseLayer(8 + growth, growth)])
        self.bn = nn.BatchNorm2d(8 + 2 * growth)
        self.head = nn.Linear(4 * (8 + 2 * growth), classes)

    def forward(self, x):
        h = self.stem(x)
        for layer in self.block1:
            h = layer(h)
        h = self.transition(h)
        for layer in self.block2:
            h = layer(h)
        h = F.relu(self.bn(h))
        return self.head(F.adaptive_avg_pool2d(h, 2).flatten(1))


class ReZeroBlock(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1, bias=False)
        self.alpha = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        return x + self.alpha * self.conv2(F.relu(self.bn(self.conv1(x))))


class ReZeroNet(nn.Module):
    def __init__(self, channels=8, blocks=3, classes=10):
        super().__init__()
        self.stem = nn.Conv2d(1, channels, 3, 1, 1)
        self.blocks = nn.ModuleList([ReZeroBlock(channels) for _ in range(blocks)])
        self.head = nn.Linear(4 * channels, classes)

    def forward(self, x):
        h = self.stem(x)
        for block in self.blocks:
            h = block(h)
        return self.head(F.adaptive_avg_pool2d(h, 2).flatten(1))


class LongSkipNet(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.stem = nn.Conv2d(1, 8, 3, 1, 1)
        self.conv1 = nn.Conv2d(8, 8, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 16, 3, 2, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(16)
        self.conv3 = nn.Conv2d(16, 16, 3, 1, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(16)
        self.skip = nn.Conv2d(8, 16, 1, 2, bias=False)
        self.head = nn.Linear(16, classes)

    def forward(self, x):
        h1 = F.relu(self.bn1(self.conv1(self.stem(x))))
        h2 = F.relu(self.bn2(self.conv2(h1)))
        h3 = self.bn3(self.conv3(h2))
        return self.head(F.relu(h3 + self.skip(h1)).flatten(2).mean(2))


def small_record(model, seed):
    torch.manual_seed(seed)
    model = model.double()
    if isinstance(model, ReZeroNet):
        with torch.no_grad():
            for i, block in enumerate(model.blocks):
                block.alpha.fill_(0.3 - 0.2 * i)  # away from 0, so every branch has a gradient
    state = {n: encode(t) for n, t in model.state_dict().items()}
    x = torch.randn(4, 1, 8, 8, dtype=torch.float64)
    model.train()
    out = model(x)
    cotangent = torch.randn_like(out)
    (out * cotangent).sum().backward()
    return {
        'state': state,
        'input': encode(x),
        'cotangent': encode(cotangent),
        'logits': encode(out),
        'grads': {n: encode(p.grad) for n, p in model.named_parameters()},
    }


def summary(t):
    flat = t.detach().double().flatten()
    return {'norm': flat.norm().item(), 'probe': flat.dot(probe(flat.numel())).item()}


def resnet_record():
    torch.manual_seed(0)
    model = PreActResNet(18, 'mod', 10, False).double()
    g = torch.Generator().manual_seed(5)
    x = torch.randn(8, 3, 32, 32, generator=g, dtype=torch.float64)
    y = torch.randint(0, 10, (8,), generator=g)
    model.train()
    out = model(x)
    cotangent = torch.cos(0.3 * torch.arange(out.numel(), dtype=torch.float64)).reshape(out.shape)
    (out * cotangent).sum().backward()
    grads = {n: summary(p.grad) for n, p in model.named_parameters()}
    logits = encode(out)
    model.zero_grad(set_to_none=True)
    opt = torch.optim.SGD(model.parameters(), lr=0.002, momentum=0.9)
    losses = []
    for _ in range(20):
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return {
        'input': encode(x),
        'labels': encode(y),
        'logits': logits,
        'grads': grads,
        'losses': losses,
        'after': {n: summary(t) for n, t in model.state_dict().items() if t.is_floating_point()},
    }


def main():
    out = {
        'densenet': small_record(DenseNet(), 1),
        'rezero': small_record(ReZeroNet(), 2),
        'longskip': small_record(LongSkipNet(), 3),
        'resnet18': resnet_record(),
    }
    os.makedirs(OUT_DIR, exist_ok=True)
    with open(os.path.join(OUT_DIR, 'traced.json'), 'w') as f:
        json.dump(out, f)
    print(f'wrote traced.json to {os.path.relpath(OUT_DIR)}', file=sys.stderr)


if __name__ == '__main__':
    main()
