'use strict';
// The fused batch norm + ReLU operation alone against the unfused one (LibTorch's batch norm,
// cuDNN's on CUDA, then ReLU), forward + backward on activations of ResNet-50's shapes,
// channels-last bfloat16: milliseconds per pass and the bytes each must move at least.
// Usage: node fused-op.js DEVICE   (prints one JSON line)
const sn = require('../..');

const device = process.argv[2] ?? 'cuda:0';
const smoke = !device.startsWith('cuda');
const shapes = smoke ? [[2, 8, 4, 4]] : [[256, 64, 112, 112], [256, 256, 56, 56], [256, 512, 28, 28], [256, 2048, 7, 7]];
const repeats = smoke ? 2 : 20;
const sync = () => smoke || sn.cuda.synchronize();

const timePasses = (mode, shape, residual) => {
  sn.cuda.fusedBatchNorm(mode);
  const [n, c, h, w] = shape;
  const bn = new sn.nn.BatchNorm2d(c).to(device);
  const relu = new sn.nn.ReLU();
  const model = residual
    ? new sn.nn.Residual({ branch: { bn }, post: { relu }, shortcut: 'identity' })
    : new sn.nn.Sequential({ bn, relu });
  const x = sn.randn([n, h, w, c], { device, dtype: 'bfloat16' }).permute([0, 3, 1, 2]).requiresGrad_();
  const cotangent = sn.randn([n, h, w, c], { device, dtype: 'bfloat16' }).permute([0, 3, 1, 2]);
  const params = bn.namedParameters().map(([, p]) => p);
  // Gradients returned, not accumulated into .grad: no extra pass over x's gradient is timed.
  const pass = () => sn.scope(() => {
    sn.grad(model.forward(x), [x, ...params], { gradOutputs: [cotangent] });  // freed with the scope
  });
  for (let i = 0; i < 3; i++) pass();
  sync();
  const start = process.hrtime.bigint();
  for (let i = 0; i < repeats; i++) pass();
  sync();
  const ms = Number(process.hrtime.bigint() - start) / 1e6 / repeats;
  model.dispose();
  x.dispose();
  cotangent.dispose();
  return ms;
};

const rows = [];
for (const residual of [false, true]) {
  for (const shape of shapes) {
    const unfused = timePasses('off', shape, residual);
    const fused = timePasses(smoke ? 'always' : 'auto', shape, residual);
    // The least traffic of a fused pass: forward reads x twice (and z) and writes y; backward reads
    // dy and x (and y) twice and writes dx (and dz); with the identity shortcut, autograd's sum of
    // x's two gradients reads two and writes one. 2 bytes per bfloat16 value.
    const values = shape.reduce((a, b) => a * b, 1);
    const bytes = 2 * values * (residual ? 4 + 8 + 3 : 3 + 5);
    rows.push({ shape, residual, unfusedMs: unfused, fusedMs: fused, fusedGBs: bytes / fused / 1e6 });
  }
}
sn.cuda.fusedBatchNorm('auto');
process.stdout.write(`${JSON.stringify(rows)}\n`);
