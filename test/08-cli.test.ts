/** The `skipnorm` command as a user runs it. */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as sn from '../src/index';
import { pythonWith, requireFreshLib } from './helpers';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'skipnorm-cli-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const root = path.resolve(__dirname, '..');
const cli = (...args: string[]) => spawnSync(process.execPath, [path.join(root, 'lib', 'cli', 'main.js'), ...args], { cwd: root, encoding: 'utf8' });

// The CLI runs lib/, which tsc makes from src/: with an older lib/ these tests would test old code.
beforeAll(requireFreshLib);

describe('skipnorm CLI', () => {
  it('info --json prints versions, CUDA and devices', () => {
    const r = cli('info', '--json');
    expect(r.status).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(info.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(info.libtorch).toMatch(/^2\.\d+\.\d+/);
    expect(typeof info.cuda).toBe('boolean');
    expect(info.devices).toContain('cpu');
  });

  it('npx skipnorm info --json works from the package folder', () => {
    const r = spawnSync('npx', ['skipnorm', 'info', '--json'], { cwd: root, encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).libtorch).toMatch(/^2\./);
  });

  it('info prints a readable summary', () => {
    const r = cli('info');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/LibTorch\s+2\./);
    expect(r.stdout).toMatch(/devices\s+cpu/);
  });

  it('demo runs tensors, autograd and a worker job, and frees everything', () => {
    const r = cli('demo');
    expect(r.status).toBe(0);
    const smin = Number(/I \+ A\s+: min ([\d.]+)/.exec(r.stdout)![1]);
    const amin = Number(/of A\s+: min ([\d.]+)/.exec(r.stdout)![1]);
    expect(smin).toBeGreaterThan(0.2); // the identity keeps the spectrum away from zero
    expect(amin).toBeLessThan(0.05);
    expect(Number(/gradient error\s+: ([\d.e+-]+)/.exec(r.stdout)![1])).toBeLessThan(1e-4);
    expect(r.stdout).toMatch(/power iteration\s+50: sigma/);
    expect(r.stdout).toMatch(/live tensors after scope\s+: 0/);
  });

  it('rejects an unknown command with usage and exit code 2', () => {
    const r = cli('frobnicate');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/unknown command 'frobnicate'/);
    expect(r.stderr).toMatch(/Usage: skipnorm/);
  });

  it('rejects an unknown option clearly', () => {
    const r = cli('info', '--jsn');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/info: unknown option '--jsn' \(did you mean --json\?\); skipnorm info --help lists its flags/);
  });

  it('init writes PyTorch-initialised weights; forward runs them in eval and train mode', () => {
    const weights = path.join(tmp, 'bnnet.safetensors');
    const r = cli('init', '--model', 'bnnet', '--variant', 'a', '--seed', '7', '--out', weights);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/wrote 39 tensors \(9,970 parameters\)/);
    const file = sn.readSafetensors(weights);
    expect(JSON.parse(file.metadata.model)).toEqual({ model: 'bnnet', variant: 'a' });
    sn.manualSeed(7);
    const model = sn.models.bnnet({ variant: 'c' }); // same parameters as variant a
    const own = model.stateDict();
    for (const [k, t] of Object.entries(file.tensors)) expect(own[k].equal(t), k).toBe(true);
    const input = path.join(tmp, 'x.safetensors');
    sn.scope(() => sn.writeSafetensors(input, { input: sn.randn([6, 1, 28, 28], { generator: new sn.Generator(1) }) }));
    const x = sn.readSafetensors(input).tensors.input;
    for (const train of [false, true]) {
      const out = path.join(tmp, `y-${train}.safetensors`);
      const f = cli('forward', '--model', 'bnnet', '--variant', 'c', '--weights', weights, '--input', input, '--out', out, ...(train ? ['--train'] : []));
      expect(f.status, f.stderr).toBe(0);
      const y = sn.readSafetensors(out).tensors.output;
      model.train(train);
      const expected = sn.noGrad(() => model.forward(x));
      expect(y.shape).toEqual([6, 10]);
      expect(y.allclose(expected, 1e-6, 1e-6)).toBe(true);
      sn.dispose([y, expected]);
      model.loadStateDict(file.tensors); // undo the running-statistics update of the train pass
    }
    sn.dispose([own, file.tensors, x]);
    model.dispose();
  });

  it('init covers the ResNets: preact with ImageNet input, and torchvision layout without skips', () => {
    const a = path.join(tmp, 'p.safetensors');
    expect(cli('init', '--model', 'preact-resnet', '--depth', '18', '--shortcut', 'mod', '--classes', '100', '--resolution', 'imagenet', '--seed', '1', '--out', a).status).toBe(0);
    const p = sn.readSafetensors(a).tensors;
    expect(p['linear.weight'].shape).toEqual([100, 512]);
    expect(p['bn.weight'].shape).toEqual([512]);
    sn.dispose(p);
    const b = path.join(tmp, 'r.safetensors');
    expect(cli('init', '--model', 'resnet', '--depth', '50', '--no-skip', '--out', b).status).toBe(0);
    const r = sn.readSafetensors(b).tensors;
    expect(r['fc.weight'].shape).toEqual([1000, 2048]);
    expect(r['layer1.0.downsample.0.weight'].shape).toEqual([256, 64, 1, 1]);
    sn.dispose(r);
  });

  it('bad flags and files are clear errors: usage exits 2, failures exit 1, nothing half-written', () => {
    const weights = path.join(tmp, 'w.safetensors');
    cli('init', '--model', 'bnnet', '--out', weights);
    const usage: [string[], RegExp][] = [
      [['init', '--out', 'x'], /--model is required/],
      [['init', '--model', 'vgg', '--out', 'x'], /--model must be bnnet, preact-resnet or resnet, got 'vgg'/],
      [['init', '--model', 'bnnet', '--variant', 'z', '--out', 'x'], /--variant must be a, b or c, got 'z'/],
      [['init', '--model', 'preact-resnet', '--depth', '20', '--out', 'x'], /--depth must be 18, 34, 50, 101 or 152, got '20'/],
      [['init', '--model', 'resnet', '--shortcut', 'mod', '--out', 'x'], /--shortcut does not apply to --model resnet/],
      [['init', '--model', 'bnnet', '--classes', '100', '--out', 'x'], /--classes does not apply to --model bnnet/],
      [['init', '--model', 'resnet', '--resolution', 'imagenet', '--out', 'x'], /--resolution does not apply to --model resnet/],
      [['init', '--model', 'bnnet', '--seed=-3', '--out', 'x'], /--seed must be a non-negative integer/],
      [['init', '--model', 'bnnet'], /--out FILE is required/],
      [['forward', '--model', 'bnnet', '--weights', weights, '--out', 'y'], /--input X\.safetensors is required/],
      [['train', '--model', 'bnnet', '--data', weights, '--steps', '1', '--full-batch', '--lr', '0.1', '--device', 'gpu'], /--device must be auto, cpu, cuda or cuda:N, got 'gpu'/],
      ...(sn.cuda.isAvailable() ? [] : [[['train', '--model', 'bnnet', '--data', weights, '--steps', '1', '--full-batch', '--lr', '0.1', '--device', 'cuda'], /--device cuda: CUDA is not available here/] as [string[], RegExp]]),
    ];
    for (const [args, message] of usage) {
      const r = cli(...args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
    }
    const out = path.join(tmp, 'never.safetensors');
    const wrongModel = cli('forward', '--model', 'preact-resnet', '--weights', weights, '--input', weights, '--out', out);
    expect(wrongModel.status).toBe(2);
    expect(wrongModel.stderr).toMatch(/does not fit --model preact-resnet --depth 18 --shortcut orig: 39 of its 39 tensors are not in the model .*; skipnorm init made it for bnnet --variant c/);
    const noInput = cli('forward', '--model', 'bnnet', '--weights', weights, '--input', weights, '--out', out);
    expect(noInput.status).toBe(2);
    expect(noInput.stderr).toMatch(/has no tensor named 'input'/);
    fs.writeFileSync(path.join(tmp, 'bad-x.safetensors'), 'garbage that is not safetensors');
    const badInput = cli('forward', '--model', 'bnnet', '--weights', weights, '--input', path.join(tmp, 'bad-x.safetensors'), '--out', out);
    expect(badInput.status).toBe(1);
    expect(badInput.stderr).toMatch(/SafetensorsError: safetensors: .*bad-x\.safetensors: the header claims/);
    const x = path.join(tmp, 'mnist-shaped.safetensors');
    sn.scope(() => sn.writeSafetensors(x, { input: sn.zeros([2, 3, 28, 28]) }));
    const wrongShape = cli('forward', '--model', 'bnnet', '--weights', weights, '--input', x, '--out', out);
    expect(wrongShape.status).toBe(1);
    expect(wrongShape.stderr).toMatch(/Conv2d\(1 -> 5\): expected input with 1 channels, got shape \[2, 3, 28, 28\]/);
    expect(fs.existsSync(out)).toBe(false);
  });

  it('train runs the loop natively, prints progress lines and a summary, writes weights, and resumes', () => {
    const data = path.join(tmp, 'train-data.safetensors');
    sn.scope(() => {
      const g = new sn.Generator(2);
      sn.writeSafetensors(data, { input: sn.rand([32, 1, 28, 28], { generator: g }), labels: sn.randint(0, 10, [32], { generator: g }) });
      g.dispose();
    });
    const out = path.join(tmp, 'trained.safetensors');
    const dir = path.join(tmp, 'train-ckpt');
    const common = ['--model', 'bnnet', '--variant', 'c', '--data', data, '--batch-size', '8', '--lr', '0.1', '--momentum', '0.9', '--schedule', 'warmup:2+step:2:0.5', '--seed', '3', '--checkpoint-dir', dir, '--checkpoint-every', '4'];
    const first = cli('train', ...common, '--epochs', '2', '--out', out);
    expect(first.status, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/^\d+\/8  epoch \d+  loss [\d.]+/m); // plain lines when not on a terminal
    expect(first.stdout).toMatch(/epoch 1: loss [\d.]+, top-1 [\d.]+%, top-5 [\d.]+%/);
    expect(first.stdout).toMatch(/trained 8 steps in [\d.]+ s/);
    const weights = sn.readSafetensors(out);
    expect(Object.keys(weights.tensors)).toContain('Block2.cproj.weight');
    expect(weights.metadata.steps).toBe('8');
    sn.dispose(weights.tensors);
    expect(sn.listCheckpoints(dir).map((c) => c.step)).toEqual([4, 8]);
    // The same run asked for 2 epochs resumes at its end; a shorter one is refused.
    const again = cli('train', ...common, '--epochs', '2', '--resume', '--json');
    expect(again.status, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ steps: 8, resumedFrom: 8 });
    const shorter = cli('train', ...common, '--epochs', '1', '--resume');
    expect(shorter.status).toBe(1);
    expect(shorter.stderr).toMatch(/cannot resume .* another epochs: 2 then, 1 now/);
    // Resumed at its last step: the summary gives the checkpoint's last epoch, not NaN.
    const finished = cli('train', ...common, '--epochs', '2', '--resume');
    expect(finished.status, finished.stderr).toBe(0);
    expect(finished.stdout).toMatch(/trained 0 steps \(resumed at step 8\) in [\d.]+ s; last epoch loss \d+\.\d{4}/);
    expect(finished.stdout).not.toMatch(/NaN/);
    // Another model or optimiser is refused, however alike their parameters.
    const otherVariant = cli('train', ...common.map((a) => (a === 'c' ? 'a' : a)), '--epochs', '2', '--resume');
    expect(otherVariant.status).toBe(1);
    expect(otherVariant.stderr).toMatch(/cannot resume .* another model/);
    const otherOptimizer = cli('train', ...common, '--optimizer', 'adam', '--epochs', '2', '--resume');
    expect(otherOptimizer.status).toBe(1);
    expect(otherOptimizer.stderr).toMatch(/cannot resume .* another optimizer: kind "sgd" then, "adam" now/);
    // More epochs extend the finished run.
    const longer = cli('train', ...common, '--epochs', '3', '--resume', '--json');
    expect(longer.status, longer.stderr).toBe(0);
    expect(JSON.parse(longer.stdout)).toMatchObject({ steps: 12, resumedFrom: 8 });
    expect(sn.listCheckpoints(dir).map((c) => c.step)).toEqual([4, 8, 12]);
  });

  it.runIf(pythonWith('tensorboard'))("train --val-data --track-jacobian --tensorboard --csv: TensorBoard's own reader reads the run", () => {
    const data = path.join(tmp, 'watch-data.safetensors');
    const held = path.join(tmp, 'watch-val.safetensors');
    sn.scope(() => {
      const g = new sn.Generator(4);
      sn.writeSafetensors(data, { input: sn.rand([32, 1, 28, 28], { generator: g }), labels: sn.randint(0, 10, [32], { generator: g }) });
      sn.writeSafetensors(held, { input: sn.rand([20, 1, 28, 28], { generator: g }), labels: sn.randint(0, 10, [20], { generator: g }) });
      g.dispose();
    });
    const board = path.join(tmp, 'watch-tb');
    const csv = path.join(tmp, 'watch.csv');
    const r = cli('train', '--model', 'bnnet', '--data', data, '--val-data', held, '--epochs', '2', '--batch-size', '8', '--lr', '0.1', '--track-jacobian', 'stem', '--every', '4', '--track-examples', '4', '--tensorboard', board, '--csv', csv, '--json');
    expect(r.status, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result.validations.map((v: { step: number; examples: number }) => [v.step, v.examples])).toEqual([[4, 20], [8, 20]]);
    expect(result.history[1].validation.step).toBe(8);
    const script = `
import json, sys
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
acc = EventAccumulator(sys.argv[1], size_guidance={'scalars': 0, 'histograms': 0})
acc.Reload()
print(json.dumps({'val': [[e.step, e.value] for e in acc.Scalars('validation/loss')],
  'loss': [e.step for e in acc.Scalars('train/loss')], 'stem': [e.step for e in acc.Histograms('jacobian/stem')],
  'weights': sorted(t for t in acc.Tags()['histograms'] if t.startswith('weights/'))[:2]}))
`;
    const read = spawnSync(pythonWith('tensorboard')!, ['-c', script, board], { encoding: 'utf8' });
    expect(read.status, read.stderr).toBe(0);
    const events = JSON.parse(read.stdout.trim().split('\n').pop()!);
    expect(events.val.map(([s]: number[]) => s)).toEqual([4, 8]);
    events.val.forEach(([, v]: number[], i: number) => expect(v).toBeCloseTo(result.validations[i].loss, 5));
    expect(events.loss).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(events.stem).toEqual([0, 4, 8]);
    expect(events.weights.length).toBe(2);
    const rows = fs.readFileSync(csv, 'utf8').trim().split('\n');
    expect(rows.filter((l) => l.startsWith('validation,')).length).toBe(2);
    expect(rows.filter((l) => l.startsWith('step,')).length).toBe(8);
    // Watching flags that do not fit together are usage errors.
    expect(cli('train', '--model', 'bnnet', '--data', data, '--epochs', '1', '--batch-size', '8', '--lr', '0.1', '--val-every', '2').stderr).toMatch(/--val-every needs --val-data/);
    expect(cli('train', '--model', 'bnnet', '--data', data, '--epochs', '1', '--batch-size', '8', '--lr', '0.1', '--track-file', 'x.jsonl').stderr).toMatch(/--track-file needs --track-jacobian/);
  });

  it('outputs are checked before the work starts: a folder that does not exist fails at once, nothing is computed', () => {
    const data = path.join(tmp, 'train-data.safetensors');
    const weights = path.join(tmp, 'w.safetensors');
    const missing = path.join(tmp, 'no-such-folder', 'f.safetensors');
    const cases: string[][] = [
      ['train', '--model', 'bnnet', '--data', data, '--steps', '200', '--batch-size', '8', '--lr', '0.1', '--out', missing],
      ['init', '--model', 'bnnet', '--out', missing],
      ['forward', '--model', 'bnnet', '--weights', weights, '--input', weights, '--out', missing],
      ['spectrum', '--model', 'bnnet', '--weights', weights, '--input', weights, '--out', missing],
      ['weight-spectra', '--model', 'bnnet', '--weights', weights, '--out', missing],
      ['data', 'pack', '--format', 'digits', '--size', '28', '--out', missing],
      ['train', '--model', 'bnnet', '--data', data, '--steps', '200', '--batch-size', '8', '--lr', '0.1', '--out', tmp],
    ];
    for (const args of cases) {
      const r = cli(...args);
      expect(r.status, `${args.join(' ')}: ${r.stderr}`).toBe(1);
      expect(r.stderr).toMatch(args.at(-1) === tmp ? /cannot write .*: .* is a folder/ : /cannot write .*f\.safetensors: the folder .*no-such-folder does not exist/);
      expect(r.stderr).not.toMatch(/epoch|images packed|\d+\/\d+/); // no progress: nothing ran
    }
    expect(fs.existsSync(path.dirname(missing))).toBe(false);
  });

  it("'constructor' and 'toString' are unknown commands, not a crash", () => {
    for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      const r = cli(name);
      expect(r.status, name).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`unknown command '${name}'`));
      expect(r.stderr).not.toMatch(/at .*\(node:internal/);
    }
  });

  it('train rejects bad flags and data clearly', () => {
    const data = path.join(tmp, 'train-data.safetensors');
    const cases: [string[], number, RegExp][] = [
      [['train', '--model', 'bnnet', '--data', data, '--batch-size', '8', '--lr', '0.1'], 2, /give exactly one of --epochs and --steps/],
      [['train', '--model', 'bnnet', '--data', data, '--steps', '2', '--lr', '0.1'], 2, /give exactly one of --batch-size and --full-batch/],
      [['train', '--model', 'bnnet', '--data', data, '--steps', '2', '--full-batch'], 2, /--lr is required/],
      [['train', '--model', 'bnnet', '--data', data, '--steps', '2', '--full-batch', '--lr', '0.1', '--optimizer', 'lion'], 2, /--optimizer must be sgd, adam or adamw/],
      [['train', '--model', 'bnnet', '--data', data, '--steps', '2', '--full-batch', '--lr', '0.1', '--schedule', 'exp:3'], 2, /unknown schedule 'exp'/],
      [['train', '--model', 'bnnet', '--data', path.join(tmp, 'x.safetensors'), '--steps', '2', '--full-batch', '--lr', '0.1'], 2, /must hold tensors 'input' and 'labels'/],
      [['train', '--model', 'preact-resnet', '--data', data, '--steps', '2', '--full-batch', '--lr', '0.1'], 1, /expected input with 3 channels/],
    ];
    for (const [args, status, message] of cases) {
      const r = cli(...args);
      expect(r.status, args.join(' ')).toBe(status);
      expect(r.stderr).toMatch(message);
    }
  });

  it('data stats --json: count, classes, perClass, mean and std; data pack makes a file stats can read', () => {
    const root = path.join(tmp, 'folder');
    for (const [cls, file] of [['cat', 'wide.png'], ['cat', 'photo.jpg'], ['dog', 'tall.png']]) {
      fs.mkdirSync(path.join(root, cls), { recursive: true });
      fs.copyFileSync(path.join(__dirname, 'golden', 'data', file), path.join(root, cls, file));
    }
    const r = cli('data', 'stats', '--format', 'folder', '--root', root, '--json');
    expect(r.status, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s).toMatchObject({ count: 3, classes: 2, perClass: [2, 1], classNames: ['cat', 'dog'], skipped: 0 });
    expect(s.mean).toHaveLength(3);
    expect(s.std.every((v: number) => v > 0.05 && v < 0.5)).toBe(true);
    const file = path.join(tmp, 'folder.snpack');
    const p = cli('data', 'pack', '--format', 'folder', '--root', root, '--size', '12,10', '--out', file);
    expect(p.status, p.stderr).toBe(0);
    expect(p.stdout).toMatch(/packed 3 images of 12x10/);
    const again = JSON.parse(cli('data', 'stats', '--format', 'packed', '--root', file, '--json').stdout);
    expect(again).toMatchObject({ count: 3, classes: 2, perClass: [2, 1] });
    const digits = JSON.parse(cli('data', 'stats', '--format', 'digits', '--split', 'test', '--json').stdout);
    expect(digits).toMatchObject({ count: 2000, classes: 10 });
    expect(digits.mean[0]).toBeGreaterThan(0.1);
  });

  it('data rejects bad flags and data clearly', () => {
    const cases: [string[], number, RegExp][] = [
      [['data'], 2, /expected 'stats', 'pack' or 'export'/],
      [['data', 'stats', '--root', tmp], 2, /--format is required/],
      [['data', 'stats', '--format', 'imagenet', '--root', tmp], 2, /--format must be digits, mnist, cifar10, cifar100, folder or packed, got 'imagenet'/],
      [['data', 'stats', '--format', 'mnist'], 2, /--root is required for --format mnist \(--format digits uses the bundled MNIST digits\)/],
      [['data', 'stats', '--format', 'cifar10', '--root', tmp, '--split', 'val'], 2, /--split must be train or test/],
      [['data', 'pack', '--format', 'digits', '--out', path.join(tmp, 'd.snpack')], 2, /--size is required/],
      [['data', 'stats', '--format', 'mnist', '--root', path.join(tmp, 'missing')], 1, /no such folder/],
      [['data', 'stats', '--format', 'cifar100', '--root', tmp], 1, /no CIFAR-100 file \(train.bin\)/],
    ];
    for (const [args, status, message] of cases) {
      const r = cli(...args);
      expect(r.status, args.join(' ')).toBe(status);
      expect(r.stderr).toMatch(message);
    }
  });
});
