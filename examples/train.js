// Train the residual network of residual-network.js on the bundled real MNIST digits, with the
// native loader feeding fit, then evaluate it on the held-out digits.
// Run: node examples/train.js
const sn = require('skipnorm');
const { residualNetwork } = require('./residual-network');

(async () => {
  const T = sn.data.transforms;
  const train = sn.data.digits({ split: 'train' });
  const test = sn.data.digits({ split: 'test' });
  sn.manualSeed(0);
  const model = residualNetwork();
  const optimizer = new sn.optim.SGD(model, { lr: 0.05, momentum: 0.9 });
  const normalize = [T.normalize([0.1307], [0.3081])];
  await sn.fit(model, train, {
    optimizer,
    epochs: 1,
    batchSize: 32,
    transforms: normalize,
    onEpoch: (e) => console.log(`epoch ${e.epoch}: loss ${e.loss.toFixed(4)}, accuracy ${e.top1.toFixed(3)} (${e.seconds.toFixed(1)} s)`),
  });
  const result = await sn.evaluate(model, test, { batchSize: 500, transforms: normalize });
  console.log(`test accuracy ${result.top1.toFixed(3)} on ${result.examples} held-out digits`);
  optimizer.dispose();
  model.dispose();
  train.dispose();
  test.dispose();
})();
