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

// Relative to the largest magnitude of `b`; `atol` admits values that are rounding noise around zero
// (a conv bias followed by batch norm has a gradient of ~1e-9: only noise is left of it).
const close = (a, b, tol, what, atol = 0) => {
  const diff = a.to('cpu').sub(b.to('cpu')).abs().max().item();
  const err = diff / Math.max(1e-12, b.abs().max().item());
  assert.ok(err <= tol || diff <= atol, `${what}: relative difference ${err} > ${tol} (absolute ${diff})`);
  console.log(`ok  ${what} (${err <= tol ? err.toExponential(1) : `absolute ${diff.toExponential(1)}`})`);
};

// A BNNet (c) on cuda:0 with the weights of `source`.
const gpuCopyOf = (source) => {
  const m = sn.models.bnnet({ variant: 'c' });
  m.loadStateDict(source.stateDict());
  return m.to('cuda:0');
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
  const gpu = gpuCopyOf(cpu);
  const x = sn.rand([32, 1, 28, 28]);
  const y = sn.randint(0, 10, [32]);
  const lossCpu = sn.F.crossEntropy(cpu.forward(x), y);
  const lossGpu = sn.F.crossEntropy(gpu.forward(x.to('cuda:0')), y.to('cuda:0'));
  close(lossGpu, lossCpu, 1e-4, 'BNNet loss on cuda:0 vs CPU');
  lossCpu.backward();
  lossGpu.backward();
  const gradsCpu = cpu.namedParameters();
  const gradsGpu = gpu.namedParameters();
  gradsCpu.forEach(([name, p], i) => close(gradsGpu[i][1].grad, p.grad, 1e-3, `gradient of ${name}`, 1e-5));

  // SGD on the GPU takes PyTorch's multi-tensor (foreach) path: the same updates as on the CPU
  // (a small rate: at 0.1 with Nesterov, 3 full-batch steps amplify 1e-6 gradient differences
  // to 4e-3; the foreach path itself gives the CPU path's bits when forced on the CPU).
  for (const options of [{ lr: 0.01, momentum: 0.9, weightDecay: 1e-3 }, { lr: 0.01, momentum: 0.9, nesterov: true }]) {
    const onCpu = sn.models.bnnet({ variant: 'c' });
    const onGpu = gpuCopyOf(onCpu);
    await sn.fit(onCpu, { input: x, labels: y }, { optimizer: new sn.optim.SGD(onCpu, options), steps: 3 });
    await sn.fit(onGpu, { input: x.to('cuda:0'), labels: y.to('cuda:0') }, { optimizer: new sn.optim.SGD(onGpu, options), steps: 3 });
    const a = onCpu.parameters(), b = onGpu.parameters();
    a.forEach((p, i) => close(b[i], p, 1e-3, `SGD ${JSON.stringify(options)} on cuda:0 vs CPU, ${onCpu.namedParameters()[i][0]}`));
  }

  // fit on the GPU: in-memory tensors, then a Dataset through the loader (batches follow the model).
  const optimizer = new sn.optim.SGD(gpu, { lr: 0.1 });
  const r1 = await sn.fit(gpu, { input: x.to('cuda:0'), labels: y.to('cuda:0') }, { optimizer, steps: 20 });
  assert.ok(r1.lastEpochLoss < lossCpu.item(), 'full-batch training on the GPU lowers the loss');
  const digits = sn.data.digits({ split: 'test' });
  const r2 = await sn.fit(gpu, digits, { optimizer, epochs: 1, batchSize: 100, transforms: [sn.data.transforms.normalize([0.1307], [0.3081])] });
  console.log(`ok  fit from the loader on cuda:0: ${r2.steps} steps, last loss ${r2.lastEpochLoss.toFixed(4)}`);
  // uint8 batches (pinned) copied on a side stream and normalised on the device give the same
  // training as float batches made on the CPU.
  const T = sn.data.transforms;
  const tf = [T.randomCrop(28, { padding: 2 }), T.horizontalFlip(), T.normalize([0.1307], [0.3081])];
  const raw = await new sn.data.DataLoader(digits, { batchSize: 50, seed: 4, transforms: tf, output: 'uint8', pinMemory: true }).batch(0, 0);
  assert.deepEqual([raw.input.dtype, raw.input.shape], ['uint8', [50, 28, 28, 1]]);
  sn.dispose([raw.input, raw.labels]);
  const runs = [];
  for (const output of ['float', 'uint8']) {
    sn.manualSeed(7);
    const m = sn.models.bnnet({ variant: 'c' }).to('cuda:0');
    const loader = new sn.data.DataLoader(digits, { batchSize: 100, seed: 4, transforms: tf, output, pinMemory: output === 'uint8', channelsLast: true });
    const seen = [];
    await sn.fit(m, loader, { optimizer: new sn.optim.SGD(m, { lr: 0.05 }), epochs: 2, onStep: (e) => seen.push(e.loss) });
    runs.push(seen);
    loader.dispose();
  }
  runs[1].forEach((l, i) => assert.ok(Math.abs(l - runs[0][i]) <= 1e-4 * Math.abs(runs[0][i]) + 1e-5, `step ${i}: uint8 path ${l} vs float path ${runs[0][i]}`));
  console.log(`ok  uint8 batches through the side stream train as float batches: ${runs[1].length} steps, last loss ${runs[1].at(-1).toFixed(4)}`);
  const r3 = await sn.fit(gpu, digits, { optimizer, steps: 10, batchSize: 100, autocast: 'bfloat16', channelsLast: true });
  console.log(`ok  bfloat16 autocast + channels-last on cuda:0: loss ${r3.lastEpochLoss.toFixed(4)}`);

  // The Jacobian spectrum at the stem on the GPU against the CPU (float64, exact).
  const probe = sn.rand([4, 1, 28, 28]);
  cpu.loadStateDict(gpu.stateDict());
  const specCpu = await sn.spectra.jacobianSpectrum(cpu, probe);
  const specGpu = await sn.spectra.jacobianSpectrum(gpu, probe.to('cuda:0'));
  close(specGpu.singularValues, specCpu.singularValues, 1e-6, `Jacobian spectrum (${specCpu.jacobianShape.join('x')}) on cuda:0 vs CPU`);
  // On a GPU the default batches rows (stacked copies, one backward pass per batch of rows).
  const specRows = await sn.spectra.jacobianSpectrum(gpu, probe.to('cuda:0'), { rowsPerPass: 1 });
  close(specGpu.singularValues, specRows.singularValues, 1e-12, 'batched Jacobian rows (the GPU default) vs one row per pass on cuda:0');
  const specSome = await sn.spectra.jacobianSpectrum(gpu, probe.to('cuda:0'), { rowsPerPass: 7, mode: 'train' });
  close(specSome.singularValues, specRows.singularValues, 1e-12, 'Jacobian rows in passes of 7 vs one row per pass on cuda:0');
  // Tracked during fit on the GPU: hook events carry the values (read on the host).
  const tracked = [];
  await sn.fit(gpu, { input: x.to('cuda:0'), labels: y.to('cuda:0') }, { optimizer, steps: 4, trackJacobian: { input: probe.to('cuda:0'), every: 2 }, onHook: (e) => tracked.push(e) });
  assert.ok(tracked.length === 2 && tracked.every((e) => e.values.length === specCpu.singularValues.shape[0] && e.values.every(Number.isFinite)), `trackJacobian on cuda:0: ${tracked.length} events`);
  console.log(`ok  trackJacobian during fit on cuda:0 (${tracked.length} events of ${tracked[0].values.length} values)`);
  // The graphed probe gives the eager probe's values, also tracked inside a graphed fit.
  const specGraph = await sn.spectra.jacobianSpectrum(gpu, probe.to('cuda:0'), { cudaGraph: true });
  const specRowsNow = await sn.spectra.jacobianSpectrum(gpu, probe.to('cuda:0'), { rowsPerPass: 1 }); // gpu has trained since specRows
  close(specGraph.singularValues, specRowsNow.singularValues, 1e-12, 'graphed Jacobian probe vs eager rows on cuda:0');
  // Tracking inside a graphed fit leaves the training as it was (the probe must hand the model's
  // own memory back: the captured step holds its addresses).
  const deterministic = sn.cuda.cudnnDeterministic();
  sn.cuda.cudnnDeterministic(true);
  const trackedGraphs = [];
  const graphedLosses = [[], []];
  for (const [i, trackJacobian] of [[0, undefined], [1, { input: probe.to('cuda:0'), every: 4, cudaGraph: true }]]) {
    const m = gpuCopyOf(cpu);
    const o = new sn.optim.SGD(m, { lr: 0.1, momentum: 0.9 });
    await sn.fit(m, { input: x.to('cuda:0'), labels: y.to('cuda:0') }, { optimizer: o, steps: 12, cudaGraph: true, trackJacobian, onStep: (e) => graphedLosses[i].push(e.loss), onHook: (e) => trackedGraphs.push(e) });
  }
  sn.cuda.cudnnDeterministic(deterministic);
  assert.ok(trackedGraphs.length === 3 && trackedGraphs.every((e) => e.values.every(Number.isFinite)), 'graphed probe tracked during graphed fit');
  assert.deepEqual(graphedLosses[1], graphedLosses[0], 'a graphed fit with a tracked probe trains as one without');
  console.log('ok  graphed probe tracked during a graphed fit (3 events), training unchanged bit for bit');
  // float16 autocast with loss scaling on the GPU.
  const halfSteps = [];
  await sn.fit(gpu, { input: x.to('cuda:0'), labels: y.to('cuda:0') }, { optimizer, steps: 5, autocast: 'float16', onStep: (e) => halfSteps.push(e) });
  assert.ok(halfSteps.every((e) => Number.isFinite(e.loss) && e.lossScale > 0), 'float16 autocast with loss scaling on cuda:0');
  console.log(`ok  float16 autocast with loss scaling on cuda:0 (scale ${halfSteps.at(-1).lossScale}, loss ${halfSteps.at(-1).loss.toFixed(4)})`);

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

  // NCCL (one process, this GPU): a collective, and data-parallel fit (c10d's Reducer over NCCL,
  // synchronised batch norm) equal to plain fit from the same weights.
  await sn.distributed.init({ rank: 0, worldSize: 1, masterPort: 29533, backend: 'nccl' });
  const ones = sn.ones([5], { device: 'cuda:0' });
  await sn.distributed.allReduce(ones, { op: 'sum' });
  assert.deepEqual(Array.from(ones.to('cpu').dataSync()), [1, 1, 1, 1, 1]);
  // From fresh weights (relative loss differences mean little near a loss of zero), cuDNN
  // deterministic (else its atomics' rounding, amplified by 10 steps at lr 0.1, is what differs).
  const parallelLosses = [];
  const plainLosses = [];
  sn.manualSeed(2);
  const fresh = sn.models.bnnet({ variant: 'c' });
  const wasDeterministic = sn.cuda.cudnnDeterministic();
  sn.cuda.cudnnDeterministic(true);
  for (const [losses, distributed] of [[plainLosses, undefined], [parallelLosses, { syncBatchNorm: true }]]) {
    const m = gpuCopyOf(fresh);
    const o = new sn.optim.SGD(m, { lr: 0.1, momentum: 0.9 });
    await sn.fit(m, { input: x.to('cuda:0'), labels: y.to('cuda:0') }, { optimizer: o, steps: 10, distributed, onStep: (e) => losses.push(e.loss) });
  }
  sn.cuda.cudnnDeterministic(wasDeterministic);
  // Relative to the first loss: the loss falls 250-fold in 10 steps, and rounding differences
  // (synchronised batch norm's statistics in float64, cuDNN's in float32) grow meanwhile.
  const worst = Math.max(...plainLosses.map((l, i) => Math.abs(l - parallelLosses[i]) / plainLosses[0]));
  assert.ok(worst < 1e-4, `NCCL data-parallel fit (1 rank) vs plain fit: loss difference ${worst} of the first loss (plain ${plainLosses.join(' ')}; parallel ${parallelLosses.join(' ')})`);
  sn.distributed.destroy();
  console.log(`ok  NCCL: all-reduce, and data-parallel fit with synchronised batch norm equal to plain fit (largest loss difference ${worst.toExponential(1)} of the first; loss ${plainLosses[0].toFixed(4)} -> ${plainLosses.at(-1).toFixed(4)})`);

  // A process that exits without destroy() leaves NCCL while CUDA is loaded: a clean exit.
  const fs = require('node:fs');
  const os = require('node:os');
  const path = require('node:path');
  const { execFileSync, spawnSync } = require('node:child_process');
  const root = path.join(__dirname, '..', '..');
  const exiting = spawnSync(process.execPath, ['-e', `const sn = require(${JSON.stringify(root)}); sn.distributed.init({ rank: 0, worldSize: 1, masterPort: 29535, backend: 'nccl' }).then(() => sn.distributed.allReduce(sn.ones([3], { device: 'cuda:0' }))).then(() => process.exit(0))`], { encoding: 'utf8' });
  assert.ok(exiting.status === 0 && !/terminate|Aborted/.test(exiting.stderr), `exit without distributed.destroy(): status ${exiting.status}, ${exiting.stderr.slice(-400)}`);
  console.log('ok  a process that exits without distributed.destroy() exits cleanly (NCCL left before CUDA unloads)');

  // The CLI on the GPU: one process, then a launched NCCL worker with --sync-bn.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'skipnorm-cuda-'));
  sn.writeSafetensors(path.join(dir, 'train.safetensors'), { input: sn.rand([64, 1, 28, 28]), labels: sn.randint(0, 10, [64]) });
  const cli = path.join(root, 'lib', 'cli', 'main.js');
  for (const extra of [[], ['--nproc', '1', '--sync-bn', '--master-port', '29534']]) {
    const args = [cli, 'train', '--model', 'bnnet', '--variant', 'c', '--data', path.join(dir, 'train.safetensors'), '--steps', '5', '--batch-size', '32', '--lr', '0.1', '--device', 'cuda', '--json', '--out', path.join(dir, 'out.safetensors'), ...extra];
    const out = JSON.parse(execFileSync(process.execPath, args, { encoding: 'utf8' }).trim().split('\n').pop());
    assert.ok(out.steps === 5 && Number.isFinite(out.lastEpochLoss), `skipnorm train ${extra.join(' ')} on cuda: ${JSON.stringify(out)}`);
  }
  fs.rmSync(dir, { recursive: true, force: true });
  console.log('ok  skipnorm train --device cuda, alone and as a launched NCCL worker with --sync-bn');

  // A network written by subclassing (examples/own-networks.js), traced into a native graph: its
  // graph on cuda:0 against its eager forward on the CPU, then fit with CUDA graphs and bfloat16
  // autocast (the graph runs inside the captured step).
  {
    const { ReZeroNet } = require('../../examples/own-networks.js').networks(sn);
    sn.manualSeed(4);
    const cpuNet = new ReZeroNet();
    const gpuNet = new ReZeroNet();
    gpuNet.loadStateDict(cpuNet.stateDict());
    gpuNet.to('cuda:0');
    const x = sn.randn([32, 1, 28, 28]);
    close(sn.nn.forwardNative(gpuNet, x.to('cuda:0')), cpuNet.forward(x), 1e-4, 'traced ReZero graph on cuda:0 vs its eager forward on the CPU');
    const y = sn.randint(0, 10, [32]);
    const losses = [];
    const sgd = new sn.optim.SGD(gpuNet, { lr: 0.05, momentum: 0.9 });
    const r = await sn.fit(gpuNet, { input: x.to('cuda:0'), labels: y.to('cuda:0') }, { optimizer: sgd, steps: 12, batchSize: 32, cudaGraph: true, autocast: 'bfloat16', onStep: (e) => losses.push(e.loss) });
    assert.ok(r.steps === 12 && losses.every(Number.isFinite), `traced fit with cudaGraph and bfloat16: ${JSON.stringify(losses)}`);
    console.log(`ok  traced ReZero through fit with cudaGraph and bfloat16 autocast: loss ${losses[0].toFixed(3)} -> ${losses.at(-1).toFixed(3)}`);
    sgd.dispose();
    cpuNet.dispose();
    gpuNet.dispose();
  }

  // Fused batch norm + ReLU (sn.cuda.fusedBatchNorm): skipnorm's CUDA kernels against the unfused
  // path (LibTorch's batch norm and ReLU), from the same weights and inputs in channels-last memory
  // (a permuted NHWC tensor). Channel counts that take 16-, 8-, 4-byte and 1-element packs.
  {
    const channelsLast = (shape, dtype) => sn.randn([shape[0], shape[2], shape[3], shape[1]]).mul(2).add(0.5).to({ device: 'cuda:0', dtype }).permute([0, 3, 1, 2]);
    // The cotangent is zero where the pre-activation lies within `margin` of the ReLU's threshold:
    // there the two paths' last-bit differences can flip the mask (one element would move an input
    // gradient by a quarter of its largest value), and a flip changes no gradient when dy is zero.
    const fusedCase = (name, build, shape, dtype, tol, residual) => {
      sn.manualSeed(30);
      const model = build(shape[1]).to('cuda:0');
      const initial = Object.fromEntries(Object.entries(model.stateDict()).map(([k, v]) => [k, v.clone()]));
      const input = channelsLast(shape, dtype);
      const margin = Math.max(1e-4, 2 * tol);
      const cotangent = sn.scope(() => {
        const x64 = input.to('float64');
        const normalised = sn.F.batchNorm(x64, null, null, { training: true });  // weight 1, bias 0: the initial affine
        const pre = residual ? normalised.add(x64) : normalised;
        return sn.randn(shape).to({ device: 'cuda:0', dtype: 'float32' }).mul(pre.abs().gt(margin).to('float32'));
      });
      const run = (mode) => {
        sn.cuda.fusedBatchNorm(mode);
        model.loadStateDict(initial);
        model.zeroGrad();
        const x = input.detach().requiresGrad_();
        const before = sn.cuda.fusedBatchNormCalls();
        const y = model.forward(x);
        y.to('float32').mul(cotangent).sum().backward();
        const calls = sn.cuda.fusedBatchNormCalls() - before;
        const result = { y: y.to('float32'), dx: x.grad.to('float32'), grads: model.namedParameters().map(([n, p]) => [n, p.grad.clone()]), buffers: model.namedBuffers().map(([n, b]) => [n, b.to('float32').clone()]), calls };
        sn.dispose([x, y]);
        return result;
      };
      const release = (r) => sn.dispose([r.y, r.dx, ...r.grads.map(([, g]) => g), ...r.buffers.map(([, b]) => b)]);
      const plain = run('off'), fused = run('auto');
      sn.cuda.fusedBatchNorm('auto');
      assert.ok(plain.calls === 0 && fused.calls === 1, `${name}: fused calls ${fused.calls} (unfused ${plain.calls})`);
      close(fused.y, plain.y, tol, `fused ${name}: output`);
      close(fused.dx, plain.dx, tol, `fused ${name}: input gradient`);
      fused.grads.forEach(([n, g], i) => close(g, plain.grads[i][1], tol, `fused ${name}: gradient of ${n}`));
      fused.buffers.forEach(([n, b], i) => !n.endsWith('num_batches_tracked') && close(b, plain.buffers[i][1], 1e-5, `fused ${name}: ${n}`));
      release(plain);
      release(fused);
      sn.dispose([...Object.values(initial), input, cotangent]);
      model.dispose();
    };
    const bnRelu = (c) => new sn.nn.Sequential({ bn: new sn.nn.BatchNorm2d(c), relu: new sn.nn.ReLU() });
    // relu(bn(x) + x): the addition fused too (a branch of batch norm alone, so any input type works).
    const postActivation = (c) => new sn.nn.Residual({ branch: { bn: new sn.nn.BatchNorm2d(c) }, post: { relu: new sn.nn.ReLU() }, shortcut: 'identity' });
    // bfloat16 keeps 8 significant bits, float16 11: the fused path rounds once where the unfused one rounds after each operation.
    for (const [dtype, tol] of [['float32', 1e-5], ['bfloat16', 2e-2], ['float16', 3e-3]]) {
      // 12 channels: 8-byte packs of 16-bit types; [64, 64, 112, 112]: ResNet's stem, 802,816 rows.
      for (const shape of [[32, 64, 28, 28], [8, 256, 7, 7], [8, 12, 10, 10], [16, 6, 9, 9], [4, 3, 5, 5], [64, 64, 112, 112]]) {
        fusedCase(`BN-ReLU ${dtype} ${JSON.stringify(shape)}`, bnRelu, shape, dtype, tol, false);
      }
      fusedCase(`relu(BN + identity) ${dtype}`, postActivation, [16, 64, 14, 14], dtype, tol, true);
    }

    // Training, fused and unfused from the same weights, channels-last, each batch new data (3,200
    // random images, so that the loss does not collapse and magnify its own differences), then the
    // fused step under a CUDA graph. Batch-normalised networks at initialisation are chaotic: any
    // rounding difference grows along a run (torchvision-style post-activation ResNets the most),
    // so the rates are small: pre-activation ResNet-18 50 steps in bfloat16 (BN-ReLU pairs), and
    // ResNet-18 (post-activation: relu(bn + shortcut) fused too) 20 steps in float32.
    const trainSteps = async (build, mode, cudaGraph, settings) => {
      sn.cuda.fusedBatchNorm(mode);
      sn.cuda.cudnnDeterministic(true);
      sn.manualSeed(31);
      const model = build().to('cuda:0');
      const g = new sn.Generator(32);
      const input = sn.randn([3200, 3, 32, 32], { generator: g }).to('cuda:0');
      const labels = sn.randint(0, 10, [3200], { generator: g }).to('cuda:0');
      g.dispose();
      const losses = [];
      const before = sn.cuda.fusedBatchNormCalls();
      const sgd = new sn.optim.SGD(model, { lr: settings.lr, momentum: 0.9 });
      await sn.fit(model, { input, labels }, { optimizer: sgd, steps: settings.steps, batchSize: 64, seed: 3, autocast: settings.autocast, channelsLast: true, cudaGraph, onStep: (e) => losses.push(e.loss) });
      const calls = sn.cuda.fusedBatchNormCalls() - before;
      sgd.dispose();
      model.dispose();
      input.dispose();
      labels.dispose();
      sn.cuda.fusedBatchNorm('auto');
      sn.cuda.cudnnDeterministic(false);
      return { losses, calls };
    };
    const relative = (a, b) => Math.max(...a.map((l, i) => Math.abs(l - b[i]) / Math.abs(b[i])));
    for (const [name, build, pairs, settings] of [
      ['pre-activation ResNet-18', () => sn.models.preactResNet({ depth: 18, classes: 10 }), 16, { steps: 50, lr: 0.002, autocast: 'bfloat16' }],
      ['ResNet-18', () => sn.models.resnet({ depth: 18, classes: 10 }), 17, { steps: 20, lr: 1e-4, autocast: 'none' }],
    ]) {
      const what = `${name}, ${settings.steps} steps, ${settings.autocast === 'none' ? 'float32' : settings.autocast}`;
      const unfused = await trainSteps(build, 'off', false, settings);
      const fused = await trainSteps(build, 'auto', false, settings);
      assert.ok(unfused.calls === 0 && fused.calls === settings.steps * pairs, `${what}: fused ${fused.calls} times, expected ${settings.steps * pairs}`);
      const worst = relative(fused.losses, unfused.losses);
      assert.ok(worst <= 1e-2, `${what}: fused vs unfused losses differ by ${worst} relative`);
      console.log(`ok  ${what}, fused vs unfused: losses within ${worst.toExponential(1)} relative (${unfused.losses[0].toFixed(3)} -> ${unfused.losses.at(-1).toFixed(3)})`);
      const graphed = await trainSteps(build, 'auto', true, settings);
      const worstGraph = relative(graphed.losses, fused.losses);
      assert.ok(graphed.losses.every(Number.isFinite) && worstGraph <= 1e-2, `${what}: fused under cudaGraph: losses differ from eager fused by ${worstGraph}`);
      console.log(`ok  ${what}: the fused step under a CUDA graph: losses within ${worstGraph.toExponential(1)} of eager fused`);
    }
  }

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
