/**
 * `skipnorm demo`: a tiny end-to-end run that exercises the core: tensors on LibTorch,
 * autograd through a small residual map, exact singular values, and a worker-thread job with
 * progress, in about a second. (`npm run demo` runs the paper's MNIST experiment instead.)
 */
import * as sn from '../index';
import { defineCommand, parseCommand } from './command-spec';

export const DEMO = defineCommand({
  name: 'demo',
  summary: 'A one-second check of the core: tensors, autograd, a worker-thread job.',
  usage: ['demo'],
  flags: {},
});

export async function runDemo(args: string[]): Promise<number> {
  if (!parseCommand(DEMO, args)) return 0;
  const out = (s: string) => process.stdout.write(`${s}\n`);
  await sn.scope(async () => {
    const gen = new sn.Generator(0);
    const n = 200;
    // A random matrix A with entries on [-1/sqrt(n), 1/sqrt(n)] and the residual map I + A:
    // the toy picture of docs/paper.md, section 1, where the identity keeps singular values from zero.
    const a = sn.rand([n, n], { generator: gen }).mul(2).sub(1).div(Math.sqrt(n));
    const residual = sn.eye(n).add(a);
    const plain = sn.linalg.svdvals(a);
    const skip = sn.linalg.svdvals(residual);
    out(`singular values of A      : min ${plain.min().item().toFixed(4)}, max ${plain.max().item().toFixed(4)}`);
    out(`singular values of I + A  : min ${skip.min().item().toFixed(4)}, max ${skip.max().item().toFixed(4)}`);

    // Autograd: d/dx of sum(relu(W x)) through the residual map, checked against a closed form.
    const x = sn.randn([n], { generator: gen }).requiresGrad_();
    const y = residual.matmul(x).relu().sum();
    y.backward();
    const expected = residual.t().matmul(residual.matmul(x.detach()).gt(0).float());
    const gradError = x.grad!.sub(expected).abs().max().item();
    out(`autograd gradient error   : ${gradError.toExponential(2)}`);

    // A job on a worker thread with progress: the top singular value by power iteration.
    const result = await sn.linalg.powerIteration(residual, {
      iterations: 500,
      tol: 1e-9,
      progressEvery: 50,
      generator: gen,
      onProgress: (p) => out(`  power iteration ${String(p.iteration).padStart(3)}: sigma ${p.sigma.toFixed(6)}`),
    });
    out(`power iteration sigma_max : ${result.sigma.toFixed(6)} after ${result.iterations} iterations (exact ${skip.max().item().toFixed(6)})`);
    gen.dispose();
  });
  const m = sn.memory();
  out(`live tensors after scope  : ${m.tensors}`);
  return 0;
}
