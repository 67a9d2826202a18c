"""Golden files for training: 20 steps of torch.optim from the same initial weights and data.

For each case, from torch.manual_seed(seed) (skipnorm's zoo draws the same initial weights) and a
seeded full batch, runs `opt.zero_grad(); cross_entropy(model(x), y).backward(); opt.step();
scheduler.step()` 20 times and records after every step each parameter's norm and dot product
with cos(0.7 i) (float64), and the loss of every step. test/12-train-golden.test.ts runs the same
steps through skipnorm's native training loop and compares.

The same steps also run in float64 from the same weights and data, and every case records the
spread: per step, how far the float32 trajectory has been from the float64 one so far (the loss;
each parameter's distance). That is PyTorch's own float32 rounding carried along the trajectory; it
grows where training is sensitive (a large learning rate, a gradient that batch norm cancels, which
Adam then normalises), and another processor's float32 rounding moves the trajectory about as
much, so the test allows a multiple of it besides its fixed tolerance. Each parameter's path (its
initial norm plus the length of its updates) scales that fixed tolerance: a parameter is the sum of
its initial value and its updates, and rounding scales with what is summed, not with the sum, which
updates that cancel make small.

Writes test/golden/train.json.
"""
import base64
import copy
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from models import BNNet, PreActResNet  # noqa: E402

torch.set_num_threads(2)
STEPS = 20

OPTIMISERS = {
    'sgd': (lambda p: torch.optim.SGD(p, lr=0.1), None),
    'sgd-momentum-wd': (lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=5e-4), None),
    'adamw-step': (lambda p: torch.optim.AdamW(p, lr=1e-3, weight_decay=0.01), lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=5, gamma=0.5)),
}
# Further optimisers, on BNNet only (cheap).
BNNET_ONLY = {
    'sgd-nesterov': (lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-4), None),
    'sgd-dampening': (lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.8, dampening=0.3), None),
    'adam-amsgrad': (lambda p: torch.optim.Adam(p, lr=2e-3, weight_decay=1e-3, amsgrad=True), lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=20)),
}
MODELS = {
    'bnnet-c': (lambda: BNNet('c'), [32, 1, 28, 28]),
    'preact-resnet-18-mod': (lambda: PreActResNet(18, 'mod', 10, False), [8, 3, 32, 32]),
}


def stats(model):
    out = {}
    for name, p in model.named_parameters():
        flat = p.detach().double().flatten()
        probe = torch.cos(0.7 * torch.arange(flat.numel(), dtype=torch.float64))
        out[name] = [flat.norm().item(), flat.dot(probe).item()]
    return out


def trajectories(model, wide_model, x, y, make_opt, make_sched):
    """STEPS training steps of the float32 model, and in lockstep of its float64 copy: the float32
    losses and parameter stats, and per step the spread (how far float32 is from float64 so far:
    the largest loss difference up to that step, and per parameter the largest distance between
    the float32 and float64 parameters up to that step, which bounds the difference of a norm and,
    divided by the probe's norm, of a probe), and per parameter its path: the initial norm plus the
    length of every update so far, the magnitude of what its value sums."""
    runs = []
    for m, inputs in ((model, x), (wide_model, x.double())):
        opt = make_opt(m.parameters())
        runs.append((m, inputs, opt, make_sched(opt) if make_sched else None))
    losses, per_step, loss_spread, stat_spread, paths = [], [], [], [], []
    worst_loss, worst = 0.0, {}
    previous = {n: p.detach().double().clone() for n, p in model.named_parameters()}
    path = {n: p.norm().item() for n, p in previous.items()}
    for _ in range(STEPS):
        step_losses = []
        for m, inputs, opt, sched in runs:
            opt.zero_grad()
            loss = F.cross_entropy(m(inputs), y)
            loss.backward()
            opt.step()
            if sched:
                sched.step()
            step_losses.append(loss.item())
        losses.append(step_losses[0])
        per_step.append(stats(model))
        worst_loss = max(worst_loss, abs(step_losses[0] - step_losses[1]))
        loss_spread.append(worst_loss)
        wide = dict(wide_model.named_parameters())
        for name, p in model.named_parameters():
            worst[name] = max(worst.get(name, 0.0), (p.detach().double() - wide[name].detach()).norm().item())
        stat_spread.append(dict(worst))
        for name, p in model.named_parameters():
            now = p.detach().double()
            path[name] += (now - previous[name]).norm().item()
            previous[name] = now.clone()
        paths.append(dict(path))
    return losses, per_step, {'losses': loss_spread, 'stats': stat_spread}, paths


def main():
    cases, data = {}, {}
    for model_name, (build, shape) in MODELS.items():
        optimisers = {**OPTIMISERS, **(BNNET_ONLY if model_name == 'bnnet-c' else {})}
        for opt_name, (make_opt, make_sched) in optimisers.items():
            seed = 11
            torch.manual_seed(seed)
            model = build().train()
            rng = np.random.default_rng(seed)
            x = torch.tensor(rng.standard_normal(shape), dtype=torch.float32)
            y = torch.tensor(rng.integers(0, 10, shape[0]), dtype=torch.int64)
            wide_model = copy.deepcopy(model).double()
            losses, per_step, spread, paths = trajectories(model, wide_model, x, y, make_opt, make_sched)
            name = f'{model_name}/{opt_name}'
            data[model_name] = {'input': base64.b64encode(x.numpy().tobytes()).decode('ascii'), 'shape': shape, 'labels': y.tolist()}
            cases[name] = {'seed': seed, 'losses': losses, 'stats': per_step, 'spread': spread, 'paths': paths}
            print(f'  {name}: loss {losses[0]:.4f} -> {losses[-1]:.4f}', file=sys.stderr)
    out_dir = os.environ.get('SKIPNORM_GOLDEN_DIR') or os.path.join(os.path.dirname(__file__), '..', '..', 'test', 'golden')
    with open(os.path.join(out_dir, 'train.json'), 'w') as f:
        json.dump({'torch': torch.__version__, 'steps': STEPS, 'data': data, 'cases': cases, 'schedules': schedules(), 'clipping': clipping()},
                  f, separators=(',', ':'))


def schedules():
    """Learning rates of PyTorch's schedulers over 40 steps from lr 1 (skipnorm's closed forms must match)."""
    S = torch.optim.lr_scheduler
    makers = {
        'step': lambda o: S.StepLR(o, step_size=7, gamma=0.5),
        'multistep': lambda o: S.MultiStepLR(o, milestones=[5, 12, 30], gamma=0.2),
        'cosine': lambda o: S.CosineAnnealingLR(o, T_max=25, eta_min=0.1),
        'warmup': lambda o: S.LinearLR(o, start_factor=0.25, total_iters=6),
        'chain': lambda o: S.ChainedScheduler([S.LinearLR(o, start_factor=0.5, total_iters=4), S.StepLR(o, step_size=10, gamma=0.3)]),
        'sequential': lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=0.1, total_iters=5), S.CosineAnnealingLR(o, T_max=20)], milestones=[5]),
    }
    out = {}
    for name, make in makers.items():
        opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
        sched = make(opt)
        lrs = []
        for _ in range(40):
            lrs.append(opt.param_groups[0]['lr'])
            opt.step()
            sched.step()
        out[name] = lrs
    return out


def clipping():
    """clip_grad_norm_ on BNNet's gradients: the total norm and the clipped gradients' norms (and
    their spread against the same in float64)."""
    def clipped(dtype):
        torch.manual_seed(11)
        model = BNNet('c').to(dtype)
        rng = np.random.default_rng(11)
        x = torch.tensor(rng.standard_normal([32, 1, 28, 28]), dtype=torch.float32).to(dtype)
        y = torch.tensor(rng.integers(0, 10, 32), dtype=torch.int64)
        F.cross_entropy(model(x), y).backward()
        total = torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5).item()
        return total, {n: p.grad.norm().item() for n, p in model.named_parameters()}
    total, norms = clipped(torch.float32)
    _, wide = clipped(torch.float64)
    return {'max_norm': 0.5, 'total_norm': total, 'grad_norms': norms, 'spread': {n: abs(norms[n] - wide[n]) for n in norms}}


if __name__ == '__main__':
    main()
