// Your own networks, written by subclassing sn.nn.Module as in PyTorch: children and parameters
// are assigned in the constructor, forward is TypeScript/JavaScript. Called on tensors, forward
// runs eagerly (for debugging); fit, evaluate and the spectra trace it once into a native graph
// and run that with no JavaScript per step.
//
// Four networks: a DenseNet-style network (concatenation), ReZero (x + alpha * f(x) with a
// learnable scalar), a long skip across stages, and the pre-activation ResNet-18 of the paper
// (its state dict is the zoo model's). The ReZero and DenseNet networks are trained on the bundled
// digits and their spectrum measured after every block.
// Run: node examples/own-networks.js

/** The network classes, over a skipnorm module (`require('skipnorm')`). */
function networks(sn) {
  const { nn, F } = sn;

  class DenseLayer extends nn.Module {
    constructor(cin, growth) {
      super();
      this.bn = new nn.BatchNorm2d(cin);
      this.conv = new nn.Conv2d(cin, growth, 3, { padding: 1, bias: false });
    }
    forward(x) {
      return sn.cat([x, this.conv.forward(this.bn.forward(x).relu())], 1);
    }
  }

  class Transition extends nn.Module {
    constructor(cin, cout) {
      super();
      this.bn = new nn.BatchNorm2d(cin);
      this.conv = new nn.Conv2d(cin, cout, 1, { bias: false });
    }
    forward(x) {
      return F.avgPool2d(this.conv.forward(this.bn.forward(x).relu()), 2);
    }
  }

  class DenseNet extends nn.Module {
    constructor({ growth = 4, classes = 10 } = {}) {
      super();
      this.stem = new nn.Conv2d(1, 8, 3, { padding: 1, bias: false });
      this.block1 = new nn.ModuleList([new DenseLayer(8, growth), new DenseLayer(8 + growth, growth)]);
      this.transition = new Transition(8 + 2 * growth, 8);
      this.block2 = new nn.ModuleList([new DenseLayer(8, growth), new DenseLayer(8 + growth, growth)]);
      this.bn = new nn.BatchNorm2d(8 + 2 * growth);
      this.head = new nn.Linear(4 * (8 + 2 * growth), classes);
    }
    forward(x) {
      let h = this.stem.forward(x);
      for (const layer of this.block1) h = layer.forward(h);
      h = this.transition.forward(h);
      for (const layer of this.block2) h = layer.forward(h);
      h = this.bn.forward(h).relu();
      return this.head.forward(F.adaptiveAvgPool2d(h, 2).flatten(1));
    }
  }

  class ReZeroBlock extends nn.Module {
    constructor(channels) {
      super();
      this.conv1 = new nn.Conv2d(channels, channels, 3, { padding: 1, bias: false });
      this.bn = new nn.BatchNorm2d(channels);
      this.conv2 = new nn.Conv2d(channels, channels, 3, { padding: 1, bias: false });
      this.alpha = nn.parameter(sn.zeros([]));
    }
    forward(x) {
      return x.add(this.conv2.forward(this.bn.forward(this.conv1.forward(x)).relu()).mul(this.alpha));
    }
  }

  class ReZeroNet extends nn.Module {
    constructor({ channels = 8, blocks = 3, classes = 10 } = {}) {
      super();
      this.stem = new nn.Conv2d(1, channels, 3, { padding: 1 });
      this.blocks = new nn.ModuleList(Array.from({ length: blocks }, () => new ReZeroBlock(channels)));
      this.head = new nn.Linear(4 * channels, classes);
    }
    forward(x) {
      let h = this.stem.forward(x);
      for (const block of this.blocks) h = block.forward(h);
      return this.head.forward(F.adaptiveAvgPool2d(h, 2).flatten(1));
    }
  }

  class LongSkipNet extends nn.Module {
    constructor({ classes = 10 } = {}) {
      super();
      this.stem = new nn.Conv2d(1, 8, 3, { padding: 1 });
      this.conv1 = new nn.Conv2d(8, 8, 3, { padding: 1, bias: false });
      this.bn1 = new nn.BatchNorm2d(8);
      this.conv2 = new nn.Conv2d(8, 16, 3, { stride: 2, padding: 1, bias: false });
      this.bn2 = new nn.BatchNorm2d(16);
      this.conv3 = new nn.Conv2d(16, 16, 3, { padding: 1, bias: false });
      this.bn3 = new nn.BatchNorm2d(16);
      this.skip = new nn.Conv2d(8, 16, 1, { stride: 2, bias: false });  // from stage 1 to stage 3
      this.head = new nn.Linear(16, classes);
    }
    forward(x) {
      const h1 = this.bn1.forward(this.conv1.forward(this.stem.forward(x))).relu();
      const h2 = this.bn2.forward(this.conv2.forward(h1)).relu();
      const h3 = this.bn3.forward(this.conv3.forward(h2));
      return this.head.forward(h3.add(this.skip.forward(h1)).relu().flatten(2).mean(2));
    }
  }

  // The paper's shortcut of a downsampling block: a strided 1x1 projection named `conv`, plus in
  // 'mod' the identity-like path: stride * AvgPool(stride), zero-padded in channels.
  class IdentityLikeConv extends nn.Module {
    constructor(mod, cin, cout, stride) {
      super();
      this.conv = new nn.Conv2d(cin, cout, 1, { stride, bias: false });
      this.settings = { mod, extra: cout - cin, stride };
    }
    forward(x) {
      const { mod, extra, stride } = this.settings;
      if (!mod) return this.conv.forward(x);
      const path = F.pad(F.avgPool2d(x, stride).mul(stride), [0, 0, 0, 0, Math.ceil(extra / 2), Math.floor(extra / 2)]);
      return path.add(this.conv.forward(x));
    }
  }

  class PreActBlock extends nn.Module {
    constructor(variant, cin, planes, stride) {
      super();
      this.bn1 = new nn.BatchNorm2d(cin);
      this.conv1 = new nn.Conv2d(cin, planes, 3, { stride, padding: 1, bias: false });
      this.bn2 = new nn.BatchNorm2d(planes);
      this.conv2 = new nn.Conv2d(planes, planes, 3, { padding: 1, bias: false });
      this.variant = variant;
      if (stride !== 1 || cin !== planes) this.shortcut = new nn.ModuleList([new IdentityLikeConv(variant === 'mod', cin, planes, stride)]);
    }
    forward(x) {
      const h = this.bn1.forward(x).relu();
      const out = this.conv2.forward(this.bn2.forward(this.conv1.forward(h)).relu());
      if (this.variant === 'none') return out;
      return out.add(this.shortcut ? this.shortcut.at(0).forward(h) : x);
    }
  }

  /** The pre-activation ResNet-18 for CIFAR inputs, with the zoo's (and PyTorch's) parameter names. */
  class PreActResNet18 extends nn.Module {
    constructor({ shortcut = 'orig', classes = 10 } = {}) {
      super();
      this.conv1 = new nn.Conv2d(3, 64, 3, { padding: 1, bias: false });
      let cin = 64;
      [64, 128, 256, 512].forEach((planes, stage) => {
        const blocks = [0, 1].map((i) => {
          const block = new PreActBlock(shortcut, cin, planes, i === 0 && stage > 0 ? 2 : 1);
          cin = planes;
          return block;
        });
        this[`layer${stage + 1}`] = new nn.Sequential(...blocks);
      });
      this.linear = new nn.Linear(512, classes);
    }
    forward(x) {
      let h = this.conv1.forward(x);
      for (const stage of [this.layer1, this.layer2, this.layer3, this.layer4]) h = stage.forward(h);
      return this.linear.forward(F.avgPool2d(h, 4).flatten(1));
    }
  }

  return { DenseNet, ReZeroNet, LongSkipNet, PreActResNet18 };
}

async function main() {
  const sn = require('skipnorm');
  const { DenseNet, ReZeroNet } = networks(sn);
  const train = sn.data.digits({ split: 'train' });
  const test = sn.data.digits({ split: 'test' });
  const normalize = [sn.data.transforms.normalize([0.1307], [0.3081])];
  for (const Net of [ReZeroNet, DenseNet]) {
    sn.manualSeed(0);
    const model = new Net();
    const optimizer = new sn.optim.SGD(model, { lr: 0.1, momentum: 0.9 });
    await sn.fit(model, train, { optimizer, epochs: 2, batchSize: 64, transforms: normalize });
    const { top1 } = await sn.evaluate(model, test, { batchSize: 500, transforms: normalize });
    console.log(`${Net.name}: ${model.numParameters()} parameters, test accuracy ${top1.toFixed(3)}`);
    // The later-layer Jacobian spectrum after every block (the stem, each block, ...) on 8 digits.
    const probe = sn.stack(Array.from({ length: 8 }, (_, i) => sn.scope(() => test.get(i).image.permute([2, 0, 1]).to({ dtype: 'float32' }).div(255).sub(0.1307).div(0.3081))));
    const { cuts } = await sn.spectra.layerwiseJacobianSpectra(model, probe, { cut: 'all', depth: 1, stem: 'stem' });
    for (const c of cuts) {
      const values = c.singularValues.dataSync();
      console.log(`  after ${c.name.padEnd(14)} largest ${values[0].toFixed(2)}, median ${values[values.length >> 1].toFixed(3)} (${values.length} values)`);
      c.singularValues.dispose();
    }
    probe.dispose();
    model.dispose();
    optimizer.dispose();
  }
}

module.exports = { networks };

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
