'use strict';
// CUDA checks for the GPU machine (plain asserts, no test runner: node_modules travels light):
// results on cuda:0 against the CPU, training on the GPU from tensors and from the loader,
// autocast, channels-last, memory helpers, and out-of-memory as a TorchError the process survives.
// Usage: node cuda-checks.js   (exit 0 when all pass; skips everything, exit 3, without CUDA)
const assert = require('node:assert/strict');
const sn = require('../..');

if (!sn.cuda.isAvailable()) {
  console.log('cuda-checks: CUDA is not available here: nothing checked');
  process.exit(3);
}

const close = (a, b, tol, what) => {
  const err = a.to('cpu').sub(b.to('cpu')).abs().max().item() / Math.max(1e-12, b.abs().max().item());
  assert.ok(err <= tol, `${what}: relative difference ${err} > ${tol}`);
  console.log(`ok  ${what} (${err.toExponential(1)})`);
};

(async () => {
  console.log(`devices: ${JSON.stringify(sn.info().devices)}`);
  sn.manualSeed(0);
  const a = sn.randn([256, 256]);
  const b = sn.randn([256, 256]);
  close(a.to('cuda:0').matmul(b.to('cuda:0')), a.matmul(b), 1e-4, 'matmul on cuda:0 vs CPU');

  // A model's forward and backward on the GPU against the CPU.
  sn.manualSeed(1);
  const cpu = sn.models.bnnet({ variant: 'c' });
  const gpu = sn.models.bnnet({ variant: 'c' });
  gpu.loadStateDict(cpu.stateDict());
  gpu.to('cuda:0');
  const x = sn.rand([32, 1, 28, 28]);
  const y = sn.randint(0, 10, [32]);
  const lossCpu = sn.F.crossEntropy(cpu.forward(x), y);
  const lossGpu = sn.F.crossEntropy(gpu.forward(x.to('cuda:0')), y.to('cuda:0'));
  close(lossGpu, lossCpu, 1e-4, 'BNNet loss on cuda:0 vs CPU');
  lossCpu.backward();
  lossGpu.backward();
  const gradsCpu = cpu.namedParameters();
  const gradsGpu = gpu.namedParameters();
  gradsCpu.forEach(([name, p], i) => close(gradsGpu[i][1].grad, p.grad, 1e-3, `gradient of ${name}`));

  // fit on the GPU: in-memory tensors, then a Dataset through the loader (batches follow the model).
  const optimizer = new sn.optim.SGD(gpu, { lr: 0.1 });
  const r1 = await sn.fit(gpu, { input: x.to('cuda:0'), labels: y.to('cuda:0') }, { optimizer, steps: 20 });
  assert.ok(r1.lastEpochLoss < lossCpu.item(), 'full-batch training on the GPU lowers the loss');
  const digits = sn.data.digits({ split: 'test' });
  const r2 = await sn.fit(gpu, digits, { optimizer, epochs: 1, batchSize: 100, transforms: [sn.data.transforms.normalize([0.1307], [0.3081])] });
  console.log(`ok  fit from the loader on cuda:0: ${r2.steps} steps, last loss ${r2.lastEpochLoss.toFixed(4)}`);
  const r3 = await sn.fit(gpu, digits, { optimizer, steps: 10, batchSize: 100, autocast: 'bfloat16', channelsLast: true });
  console.log(`ok  bfloat16 autocast + channels-last on cuda:0: loss ${r3.lastEpochLoss.toFixed(4)}`);

  // The Jacobian spectrum at the stem on the GPU against the CPU (float64, exact).
  const probe = sn.rand([4, 1, 28, 28]);
  cpu.loadStateDict(gpu.stateDict());
  const specCpu = await sn.spectra.jacobianSpectrum(cpu, probe);
  const specGpu = await sn.spectra.jacobianSpectrum(gpu, probe.to('cuda:0'));
  close(specGpu.singularValues, specCpu.singularValues, 1e-6, `Jacobian spectrum (${specCpu.jacobianShape.join('x')}) on cuda:0 vs CPU`);

  // CUDA graphs: fixed batches from the loader (dropLast), bfloat16 and channels-last, captured once.
  const graphed = sn.models.bnnet({ variant: 'b' }).to('cuda:0');
  const graphedSgd = new sn.optim.SGD(graphed, { lr: 0.05, momentum: 0.9 });
  const losses = [];
  const r4 = await sn.fit(graphed, digits, { optimizer: graphedSgd, epochs: 2, batchSize: 128, dropLast: true, cudaGraph: true, autocast: 'bfloat16', channelsLast: true, onStep: (e) => losses.push(e.loss) });
  assert.ok(losses.every(Number.isFinite) && losses.at(-1) < losses[0], `graphed training lowers the loss: ${losses[0]} -> ${losses.at(-1)}`);
  console.log(`ok  cudaGraph fit from the loader, bfloat16, channels-last: ${r4.steps} steps, loss ${losses[0].toFixed(3)} -> ${losses.at(-1).toFixed(3)}`);
  // A schedule changes the rate each epoch: the step is captured again and training goes on.
  const r5 = await sn.fit(graphed, digits, { optimizer: graphedSgd, epochs: 3, batchSize: 128, dropLast: true, cudaGraph: true, schedule: { kind: 'step', stepSize: 1, gamma: 0.5 } });
  assert.ok(Number.isFinite(r5.lastEpochLoss), 'graphed training with a schedule');
  await assert.rejects(sn.fit(graphed, digits, { optimizer: graphedSgd, epochs: 1, batchSize: 128, cudaGraph: true }), /cudaGraph replays one batch shape/);
  console.log(`ok  cudaGraph with a step schedule (loss ${r5.lastEpochLoss.toFixed(4)}), and a clear error for a ragged last batch`);

  // Memory statistics see an allocation; cuDNN benchmark mode switches.
  sn.cuda.resetPeakMemoryStats();
  const big = sn.zeros([4096, 4096], { device: 'cuda:0' });
  const stats = sn.cuda.memoryStats();
  assert.ok(stats.allocatedBytes.peak >= 64 * 1024 * 1024, `memoryStats sees a 64 MB tensor: ${JSON.stringify(stats)}`);
  big.dispose();
  assert.equal(sn.cuda.cudnnBenchmark(true), true);
  console.log(`ok  memoryStats (peak ${stats.allocatedBytes.peak} bytes, ${stats.totalBytes} total) and cudnnBenchmark`);

  // Out of memory: a TorchError, and the process goes on.
  assert.throws(() => sn.empty([1 << 20, 1 << 20, 64], { device: 'cuda:0' }), (e) => e instanceof sn.TorchError && /out of memory|CUDA/i.test(e.message));
  assert.ok(sn.cuda.memoryStats().numOoms >= 1, 'the out-of-memory error is counted');
  sn.cuda.emptyCache();
  close(a.to('cuda:0').add(1), a.add(1), 1e-6, 'cuda:0 still works after an out-of-memory error');
  console.log('cuda-checks: all passed');
})().catch((e) => {
  console.error(`cuda-checks: FAILED: ${e.stack || e}`);
  process.exit(1);
});
