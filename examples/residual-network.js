// Compose a small residual network: a stem, two pre-activation residual blocks (identity
// shortcut; the second switchable to none), a weight-normalised linear head; run a batch through it.
// Run: node examples/residual-network.js
const sn = require('skipnorm');

function block(channels) {
  return new sn.nn.Residual({
    pre: { bn1: new sn.nn.BatchNorm2d(channels), relu1: new sn.nn.ReLU() },
    branch: {
      conv1: new sn.nn.Conv2d(channels, channels, 3, { padding: 1 }),
      bn2: new sn.nn.BatchNorm2d(channels),
      relu2: new sn.nn.ReLU(),
      conv2: new sn.nn.Conv2d(channels, channels, 3, { padding: 1 }),
    },
    shortcut: 'identity',
  });
}

function residualNetwork(blocks = [block(8), block(8)]) {
  return new sn.nn.Sequential({
    stem: new sn.nn.Conv2d(1, 8, 3, { padding: 1 }),
    block1: blocks[0],
    block2: blocks[1],
    pool: new sn.nn.AdaptiveAvgPool2d([1, 1]),
    flatten: new sn.nn.Flatten(),
    head: sn.nn.weightNorm(new sn.nn.Linear(8, 10)),
  });
}

if (require.main === module) {
  sn.manualSeed(0);
  const blocks = [block(8), block(8)];
  const model = residualNetwork(blocks);
  console.log(model.summary([1, 1, 28, 28]));
  sn.scope(() => {
    const logits = model.forward(sn.rand([4, 1, 28, 28]));
    console.log('logits', logits.shape);
    blocks[1].shortcut = 'none'; // the same weights, without the skip
    console.log('without the skip, logits', model.forward(sn.rand([4, 1, 28, 28])).shape);
  });
  console.log('parameters', model.numParameters());
  model.dispose();
}

module.exports = { residualNetwork };
