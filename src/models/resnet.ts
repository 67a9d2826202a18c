/**
 * The standard (post-activation) ResNets in torchvision's layout and names: conv1, bn1,
 * layer{1..4}.{i}.{conv1,bn1,conv2,bn2[,conv3,bn3]}, downsample.{0,1}, fc; bottlenecks stride in
 * their 3x3 convolution (v1.5). Initialised as torchvision does: PyTorch's defaults at
 * construction, then every convolution redrawn by kaiming_normal_(fan_out, relu), BN weights 1
 * and biases 0. With `skip: false` no block adds its shortcut (the downsample layers still exist,
 * so the parameters are the same).
 */
import { Module } from '../nn/module';
import { AdaptiveAvgPool2d, BatchNorm2d, Conv2d, Flatten, Linear, MaxPool2d, ReLU, Residual, Sequential } from '../nn/layers';
import { kaimingNormal_ } from '../nn/init';
import { checkClasses, checkDepth } from './preact-resnet';

export interface ResNetOptions {
  depth?: 18 | 34 | 50 | 101 | 152;
  classes?: number;
  /** Whether blocks add their shortcut (default true). */
  skip?: boolean;
}

function block(inPlanes: number, planes: number, stride: number, bottleneck: boolean, skip: boolean): [Residual, number] {
  const expansion = bottleneck ? 4 : 1;
  const outPlanes = planes * expansion;
  // torchvision creates the downsample layers before the block's own (the order of initial draws).
  const downsample =
    stride === 1 && inPlanes === outPlanes ? null : new Sequential(new Conv2d(inPlanes, outPlanes, 1, { stride, bias: false }), new BatchNorm2d(outPlanes));
  const branch: Record<string, Module> = bottleneck
    ? {
        conv1: new Conv2d(inPlanes, planes, 1, { bias: false }),
        bn1: new BatchNorm2d(planes),
        relu1: new ReLU(),
        conv2: new Conv2d(planes, planes, 3, { stride, padding: 1, bias: false }),
        bn2: new BatchNorm2d(planes),
        relu2: new ReLU(),
        conv3: new Conv2d(planes, outPlanes, 1, { bias: false }),
        bn3: new BatchNorm2d(outPlanes),
      }
    : {
        conv1: new Conv2d(inPlanes, planes, 3, { stride, padding: 1, bias: false }),
        bn1: new BatchNorm2d(planes),
        relu1: new ReLU(),
        conv2: new Conv2d(planes, planes, 3, { padding: 1, bias: false }),
        bn2: new BatchNorm2d(planes),
      };
  const post = { relu: new ReLU() };
  if (!downsample) return [new Residual({ branch, post, shortcut: skip ? 'identity' : 'none' }), outPlanes];
  return [new Residual({ branch, post, projection: { downsample }, shortcut: skip ? 'projection' : 'none' }), outPlanes];
}

export function resnet(options: ResNetOptions = {}): Module {
  const op = 'resnet';
  const spec = checkDepth(options.depth ?? 18, op);
  const classes = checkClasses(options.classes ?? 1000, op);
  const skip = options.skip ?? true;
  if (typeof skip !== 'boolean') throw new TypeError(`${op}: skip must be a boolean`);
  const parts: Record<string, Module> = {
    conv1: new Conv2d(3, 64, 7, { stride: 2, padding: 3, bias: false }),
    bn1: new BatchNorm2d(64),
    relu: new ReLU(),
    maxpool: new MaxPool2d(3, { stride: 2, padding: 1 }),
  };
  let inPlanes = 64;
  [64, 128, 256, 512].forEach((planes, stage) => {
    const blocks: Module[] = [];
    for (let i = 0; i < spec.blocks[stage]; i++) {
      const [b, out] = block(inPlanes, planes, i === 0 && stage > 0 ? 2 : 1, spec.bottleneck, skip);
      blocks.push(b);
      inPlanes = out;
    }
    parts[`layer${stage + 1}`] = new Sequential(...blocks);
  });
  parts.avgpool = new AdaptiveAvgPool2d(1);
  parts.flatten = new Flatten(1);
  parts.fc = new Linear(inPlanes, classes);
  const model = new Sequential(parts);
  // torchvision's re-initialisation of every convolution, in module order.
  for (const p of model.parameters()) {
    if (p.ndim === 4) kaimingNormal_(p, { mode: 'fan_out', nonlinearity: 'relu' });
    p.dispose();
  }
  return model;
}
