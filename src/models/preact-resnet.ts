/**
 * Pre-activation ResNets (He et al. 2016) in the layout of the paper's resnet_mods.py (the
 * kuangliu CIFAR code), with its parameter names: conv1; layer{1..4}.{i}.{bn1,conv1,bn2,conv2}
 * (bottlenecks add bn3, conv3); downsampling blocks' projection shortcut.0.conv; linear.
 *
 * Shortcut variants of the downsampling blocks (docs/paper.md, section 3.2):
 *   orig  projection: Conv1x1(stride s) of ReLU(BN(x))
 *   mod   the same plus s * AvgPool(s)(ReLU(BN(x))) zero-padded in channels (ceil of half the
 *         new channels before, floor after): no new parameters
 *   none  no skip connections anywhere (every block is its branch alone)
 * Inputs: 'cifar' (3x3 stem, stride 1, no max-pool; 4x4 average pool) or 'imagenet' (7x7 stride-2
 * stem with BN-ReLU and max-pool, a final BN-ReLU (`bn`), global average pool). The ImageNet
 * model's exact form is not fixed by the paper (docs/paper.md, section 3.3): this is the standard one.
 */
import { Module } from '../nn/module';
import { AdaptiveAvgPool2d, AvgPool2d, BatchNorm2d, Conv2d, Flatten, IdentityLike, Linear, MaxPool2d, ReLU, Residual, Sequential, type ShortcutKind } from '../nn/layers';

export type PreActShortcut = 'orig' | 'mod' | 'none';
export type InputKind = 'cifar' | 'imagenet';

export const RESNET_DEPTHS: Record<number, { bottleneck: boolean; blocks: [number, number, number, number] }> = {
  18: { bottleneck: false, blocks: [2, 2, 2, 2] },
  34: { bottleneck: false, blocks: [3, 4, 6, 3] },
  50: { bottleneck: true, blocks: [3, 4, 6, 3] },
  101: { bottleneck: true, blocks: [3, 4, 23, 3] },
  152: { bottleneck: true, blocks: [3, 8, 36, 3] },
};

export interface PreActResNetOptions {
  depth?: 18 | 34 | 50 | 101 | 152;
  shortcut?: PreActShortcut;
  classes?: number;
  input?: InputKind;
}

export function checkDepth(depth: number, op: string): (typeof RESNET_DEPTHS)[number] {
  const spec = RESNET_DEPTHS[depth];
  if (!spec) throw new TypeError(`${op}: depth must be one of ${Object.keys(RESNET_DEPTHS).join(', ')}, got ${JSON.stringify(depth)}`);
  return spec;
}

export function checkClasses(classes: number, op: string): number {
  if (!Number.isInteger(classes) || classes < 1) throw new TypeError(`${op}: classes must be a positive integer, got ${JSON.stringify(classes)}`);
  return classes;
}

function preActBlock(inPlanes: number, planes: number, stride: number, bottleneck: boolean, variant: PreActShortcut): [Residual, number] {
  const expansion = bottleneck ? 4 : 1;
  const outPlanes = planes * expansion;
  // Layers in the order the PyTorch block creates them (it draws initial weights in this order).
  const bn1 = new BatchNorm2d(inPlanes);
  const branch: Record<string, Module> = {};
  if (bottleneck) {
    branch.conv1 = new Conv2d(inPlanes, planes, 1, { bias: false });
    branch.bn2 = new BatchNorm2d(planes);
    branch.relu2 = new ReLU();
    branch.conv2 = new Conv2d(planes, planes, 3, { stride, padding: 1, bias: false });
    branch.bn3 = new BatchNorm2d(planes);
    branch.relu3 = new ReLU();
    branch.conv3 = new Conv2d(planes, outPlanes, 1, { bias: false });
  } else {
    branch.conv1 = new Conv2d(inPlanes, planes, 3, { stride, padding: 1, bias: false });
    branch.bn2 = new BatchNorm2d(planes);
    branch.relu2 = new ReLU();
    branch.conv2 = new Conv2d(planes, planes, 3, { padding: 1, bias: false });
  }
  const pre = { bn1, relu1: new ReLU() };
  const downsampling = stride !== 1 || inPlanes !== outPlanes;
  if (!downsampling) {
    return [new Residual({ pre, branch, shortcut: variant === 'none' ? 'none' : 'identity' }), outPlanes];
  }
  const conv = new Conv2d(inPlanes, outPlanes, 1, { stride, bias: false });
  const kind: ShortcutKind = variant === 'orig' ? 'projection' : variant === 'mod' ? 'identity+projection' : 'none';
  const block = new Residual({
    pre,
    branch,
    projection: { shortcut: new Sequential({ '0': new Sequential({ conv }) }) },
    identityLike: { identity: IdentityLike.between(inPlanes, outPlanes, stride) },
    shortcutFrom: 'pre',
    shortcut: kind,
  });
  return [block, outPlanes];
}

/** Builds a pre-activation ResNet; manualSeed(s) first gives the PyTorch model's weights for seed s. */
export function preactResNet(options: PreActResNetOptions = {}): Module {
  const op = 'preactResNet';
  const depth = options.depth ?? 18;
  const spec = checkDepth(depth, op);
  const variant = options.shortcut ?? 'orig';
  if (variant !== 'orig' && variant !== 'mod' && variant !== 'none') throw new TypeError(`${op}: shortcut must be 'orig', 'mod' or 'none', got ${JSON.stringify(variant)}`);
  const classes = checkClasses(options.classes ?? 10, op);
  const input = options.input ?? 'cifar';
  if (input !== 'cifar' && input !== 'imagenet') throw new TypeError(`${op}: input must be 'cifar' or 'imagenet', got ${JSON.stringify(input)}`);
  const parts: Record<string, Module> = {};
  if (input === 'cifar') {
    parts.conv1 = new Conv2d(3, 64, 3, { padding: 1, bias: false });
  } else {
    parts.conv1 = new Conv2d(3, 64, 7, { stride: 2, padding: 3, bias: false });
    parts.bn1 = new BatchNorm2d(64);
    parts.relu = new ReLU();
    parts.maxpool = new MaxPool2d(3, { stride: 2, padding: 1 });
  }
  let inPlanes = 64;
  [64, 128, 256, 512].forEach((planes, stage) => {
    const blocks: Module[] = [];
    for (let i = 0; i < spec.blocks[stage]; i++) {
      const stride = i === 0 && stage > 0 ? 2 : 1;
      const [block, out] = preActBlock(inPlanes, planes, stride, spec.bottleneck, variant);
      blocks.push(block);
      inPlanes = out;
    }
    parts[`layer${stage + 1}`] = new Sequential(...blocks);
  });
  if (input === 'cifar') {
    parts.pool = new AvgPool2d(4);
  } else {
    parts.bn = new BatchNorm2d(inPlanes);
    parts.final_relu = new ReLU();
    parts.pool = new AdaptiveAvgPool2d(1);
  }
  parts.flatten = new Flatten(1);
  parts.linear = new Linear(inPlanes, classes);
  return new Sequential(parts);
}
