/**
 * BNNet, the MNIST network of docs/paper.md, section 3.1 (the authors' mnist.py), with PyTorch's
 * parameter names: conv, Block1.{bn1,lin1,bn2,lin2}, Block2.{bn1,cproj,lin1,bn2,lin2}, bn, lin.
 *
 *   stem    conv 1->5 5x5, avgpool 2                     -> 5x12x12
 *   Block1  BN ReLU conv5x5(p2) BN ReLU conv5x5(p2)      (+ identity skip in b, c)
 *   Block2  h = ReLU(BN(x)); conv3x3 s2 p1 -> BN ReLU conv3x3 -> 20x4x4, flattened
 *           shortcut of h: projection cproj (1x1, stride 3) in b; in c also 3*AvgPool(3,3)(h)
 *           zero-padded 7 channels before and 8 after
 *   head    BatchNorm1d(320) ReLU Linear(320->10)
 *
 * Variants: (a) no skips; (b) identity + projection-only shortcut; (c) identity + identity-like
 * plus projection. All three have the same parameters, so one state dict serves them all.
 */
import { Module } from '../nn/module';
import { AvgPool2d, BatchNorm1d, BatchNorm2d, Conv2d, Flatten, IdentityLike, Linear, ReLU, Residual, Sequential, type ShortcutKind } from '../nn/layers';

export type BNNetVariant = 'a' | 'b' | 'c';

export const BNNET_SHORTCUTS: Record<BNNetVariant, [ShortcutKind, ShortcutKind]> = {
  a: ['none', 'none'],
  b: ['identity', 'projection'],
  c: ['identity', 'identity+projection'],
};

/** Builds BNNet. Layers are created in PyTorch's order, so manualSeed(s) gives PyTorch's weights. */
export function bnnet(options: { variant?: BNNetVariant } = {}): Module {
  const variant = options.variant ?? 'c';
  if (!(variant in BNNET_SHORTCUTS)) throw new TypeError(`bnnet: variant must be 'a', 'b' or 'c', got ${JSON.stringify(variant)}`);
  const [block1Kind, block2Kind] = BNNET_SHORTCUTS[variant];
  const conv = new Conv2d(1, 5, 5);
  const avg = new AvgPool2d(2);
  const b1 = { bn1: new BatchNorm2d(5), relu1: new ReLU(), lin1: new Conv2d(5, 5, 5, { padding: 2 }), bn2: new BatchNorm2d(5), relu2: new ReLU(), lin2: new Conv2d(5, 5, 5, { padding: 2 }) };
  const b2 = {
    bn1: new BatchNorm2d(5),
    relu1: new ReLU(),
    cproj: new Conv2d(5, 20, 1, { stride: 3 }),
    lin1: new Conv2d(5, 20, 3, { stride: 2, padding: 1 }),
    bn2: new BatchNorm2d(20),
    relu2: new ReLU(),
    lin2: new Conv2d(20, 20, 3),
  };
  const block1 = new Residual({ branch: b1, shortcut: block1Kind });
  const block2 = new Residual({
    pre: { bn1: b2.bn1, relu1: b2.relu1 },
    branch: { lin1: b2.lin1, bn2: b2.bn2, relu2: b2.relu2, lin2: b2.lin2 },
    projection: { cproj: b2.cproj },
    identityLike: { avg: new IdentityLike({ kernel: 3, stride: 3, scale: 3, before: 7, after: 8 }) },
    post: { flatten: new Flatten(1) },
    shortcutFrom: 'pre',
    shortcut: block2Kind,
  });
  const model = new Sequential({ conv, avg, Block1: block1, Block2: block2, bn: new BatchNorm1d(320), relu: new ReLU(), lin: new Linear(320, 10) });
  return model;
}
