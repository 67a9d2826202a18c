'use strict';
// skipnorm side of the GPU benchmark (as resnet50.py): the same steps through fit, whole loop in
// C++. Usage: node resnet50.js DEVICE BATCH SIZE STEPS   (prints one JSON line)
const sn = require('../..');

const [device, batch, size, steps] = [process.argv[2], ...process.argv.slice(3, 6).map(Number)];
(async () => {
  sn.manualSeed(0);
  sn.cuda.cudnnBenchmark(true);
  const model = sn.models.preactResNet({ depth: 50, shortcut: 'mod', classes: 1000, input: 'imagenet' }).to(device);
  const optimizer = new sn.optim.SGD(model, { lr: 0.1, momentum: 0.9, weightDecay: 1e-4 });
  const input = sn.randn([batch, 3, size, size], { device });
  const labels = sn.randint(0, 1000, [batch], { device });
  const options = { optimizer, batchSize: batch, shuffle: false, autocast: 'bfloat16', channelsLast: true, progressEvery: 1000000 };
  await sn.fit(model, { input, labels }, { ...options, steps: 3 });
  if (device.startsWith('cuda')) sn.cuda.synchronize();
  const start = process.hrtime.bigint();
  await sn.fit(model, { input, labels }, { ...options, steps });
  if (device.startsWith('cuda')) sn.cuda.synchronize();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  process.stdout.write(`${JSON.stringify({ imagesPerSecond: (batch * steps) / seconds })}\n`);
})();
