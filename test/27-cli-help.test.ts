/**
 * The command line as people expect it: every command's --help lists every flag it accepts (the
 * flag tables in src/cli drive both), mistakes are one clear line with exit code 2, `data export`
 * writes what `train --data` and `spectrum --input` read, and weights files that hold another
 * model than the flags ask for are one line that says which.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as sn from '../src/index';
import { parseCommand, UsageError } from '../src/cli/command-spec';
import { allSpecs } from '../src/cli/commands';
import { TRAIN } from '../src/cli/train';
import { requireFreshLib } from './helpers';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'skipnorm-cli-help-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const root = path.resolve(__dirname, '..');
const cli = (...args: string[]) => spawnSync(process.execPath, [path.join(root, 'lib', 'cli', 'main.js'), ...args], { cwd: root, encoding: 'utf8' });

// The CLI runs lib/, which tsc makes from src/: with an older lib/ these tests would test old code.
beforeAll(requireFreshLib);

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('skipnorm --help and <command> --help', () => {
  it('skipnorm --help lists every command with a one-line summary and points to <command> --help', () => {
    const r = cli('--help');
    expect(r.status).toBe(0);
    for (const spec of allSpecs()) expect(r.stdout).toMatch(new RegExp(`^  ${escape(spec.name)}\\s{2,}\\S.*$`, 'm'));
    expect(r.stdout).toMatch(/skipnorm <command> --help/);
    expect(cli('help', 'train').stdout).toBe(cli('train', '--help').stdout);
  });

  it("every command's --help (and -h) exits 0 and lists every flag of its table, each with a line of help", () => {
    const specs = allSpecs();
    expect(specs.map((s) => s.name)).toEqual(expect.arrayContaining(['info', 'demo', 'init', 'forward', 'train', 'spectrum', 'weight-spectra', 'data stats', 'data pack', 'data export', 'reproduce']));
    for (const spec of specs) {
      const words = spec.name.split(' ');
      const r = cli(...words, '--help');
      expect(r.status, `${spec.name}: ${r.stderr}`).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^Usage: skipnorm ${escape(spec.name)}\\b`));
      const flags = [...Object.keys(spec.flags), 'help'];
      for (const flag of flags) {
        // "  --flag VALUE    help text": the flag at the start of its own line, then words.
        const line = new RegExp(`^  (-\\w, )?--${escape(flag)}( \\S+)?\\s{2,}\\S.*$`, 'm');
        expect(r.stdout, `${spec.name} --help lists --${flag}`).toMatch(line);
      }
      // Nothing listed that the table does not hold.
      const listed = [...r.stdout.matchAll(/^  (?:-\w, )?--([\w-]+)/gm)].map((m) => m[1]);
      expect(listed.sort(), spec.name).toEqual(flags.sort());
      expect(cli(...words, '-h').stdout, `${spec.name} -h`).toBe(r.stdout);
    }
  });

  it('the flags that were missing from the help are there: train --device, --nproc, --sync-bn; reproduce --seed, --threads', () => {
    const train = cli('train', '--help').stdout;
    for (const flag of ['--device auto|cpu|cuda|cuda:N', '--nproc N', '--sync-bn', '--nnodes M', '--master-port P', '--weights INIT']) expect(train).toContain(`  ${flag} `);
    const reproduce = cli('reproduce', '--help').stdout;
    for (const flag of ['--seed S', '--threads N', '--histogram default|paper', '--images per-trial|once']) expect(reproduce).toContain(`  ${flag} `);
    expect(cli('reproduce', 'mnist', '--help').stdout).toBe(reproduce);
    expect(cli('data', '--help').stdout).toMatch(/skipnorm data export --format [\s\S]*skipnorm data <stats\|pack\|export> --help/);
  });

  it("init's usage says what init accepts: --model and its flags, an optional --seed", () => {
    const help = cli('init', '--help').stdout;
    expect(help).toMatch(/^Usage: skipnorm init --model bnnet\|preact-resnet\|resnet \[model flags\] \[--seed S\] --out FILE$/m);
    const positional = cli('init', 'bnnet', '--out', path.join(tmp, 'x.safetensors'));
    expect(positional.status).toBe(2);
    expect(positional.stderr).toMatch(/init: unexpected argument 'bnnet' \(every value follows its flag, e\.g\. --model NAME\)/);
  });

  it('the table drives parsing: each flag is accepted with a value it allows, and choices are checked', () => {
    for (const spec of allSpecs()) {
      for (const [name, flag] of Object.entries(spec.flags)) {
        const value = flag.choices?.[0] ?? 'v';
        const values = parseCommand(spec, flag.type === 'boolean' ? [`--${name}`] : [`--${name}`, value]) as Record<string, unknown>;
        expect(values[name], `${spec.name} --${name}`).toEqual(flag.type === 'boolean' ? true : flag.multiple ? [value] : value);
      }
    }
    expect(() => parseCommand(TRAIN, ['--optimizer', 'lion'])).toThrow(new UsageError("--optimizer must be sgd, adam or adamw, got 'lion'"));
  });

  it('unknown flags exit 2 with a message naming the flag and the help, for every command', () => {
    for (const spec of allSpecs()) {
      const r = cli(...spec.name.split(' '), ...(spec.name === 'reproduce' ? ['mnist'] : []), '--no-such-flag');
      expect(r.status, spec.name).toBe(2);
      expect(r.stderr).toContain(`skipnorm: ${spec.name}: unknown option '--no-such-flag'; skipnorm ${spec.name} --help lists its flags`);
    }
    const near = cli('train', '--batchsize', '8');
    expect(near.status).toBe(2);
    expect(near.stderr).toMatch(/unknown option '--batchsize' \(did you mean --batch-size\?\)/);
    const missing = cli('spectrum', '--out');
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/spectrum: --out needs a value/);
  });

  it("--input means a file only: the model's cifar|imagenet is --resolution, and the old use names it", () => {
    for (const command of ['init', 'forward', 'train', 'spectrum', 'weight-spectra']) {
      const r = cli(command, '--model', 'preact-resnet', '--input', 'imagenet', '--out', path.join(tmp, 'never'));
      expect(r.status, command).toBe(2);
      expect(r.stderr).toMatch(/--input cifar\|imagenet is now --resolution cifar\|imagenet/);
    }
    expect(cli('init', '--model', 'preact-resnet', '--input=cifar', '--out', path.join(tmp, 'never')).stderr).toMatch(/is now --resolution/);
    const out = path.join(tmp, 'p.safetensors');
    const r = cli('init', '--model', 'preact-resnet', '--resolution', 'imagenet', '--classes', '7', '--out', out);
    expect(r.status, r.stderr).toBe(0);
    const t = sn.readSafetensors(out);
    expect(t.tensors['conv1.weight'].shape).toEqual([64, 3, 7, 7]); // the ImageNet stem
    expect(JSON.parse(t.metadata.model)).toMatchObject({ input: 'imagenet', classes: 7 });
    sn.dispose(t.tensors);
    expect(cli('init', '--model', 'resnet', '--resolution', 'imagenet', '--out', out).stderr).toMatch(/--resolution does not apply to --model resnet/);
  });
});

describe('skipnorm data export', () => {
  it('writes the Dataset\'s images as float32 [N, C, H, W] in [0, 1] and int64 labels, which train and spectrum read', () => {
    const file = path.join(tmp, 'digits-test.safetensors');
    const r = cli('data', 'export', '--format', 'digits', '--split', 'test', '--limit', '40', '--out', file);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/wrote 40 examples \(input \[40, 1, 28, 28\], labels\)/);
    expect(r.stderr).toMatch(/^40\/40  images exported/m); // plain progress lines when not on a terminal
    const { tensors, metadata } = sn.readSafetensors(file);
    expect(Object.keys(tensors).sort()).toEqual(['input', 'labels']);
    expect([tensors.input.dtype, tensors.input.shape]).toEqual(['float32', [40, 1, 28, 28]]);
    expect([tensors.labels.dtype, tensors.labels.shape]).toEqual(['int64', [40]]);
    expect(metadata).toMatchObject({ format: 'digits', split: 'test', classes: '10' });
    const dataset = sn.data.digits({ split: 'test' });
    const labels = Array.from(tensors.labels.dataSync() as BigInt64Array, Number);
    sn.scope(() => {
      for (let i = 0; i < 40; i++) {
        const { image, label } = dataset.get(i);
        const expected = image.permute(2, 0, 1).float().div(255); // [H, W, C] uint8 -> [C, H, W] in [0, 1]
        expect(tensors.input.select(0, i).allclose(expected, 0, 1e-6), `image ${i}`).toBe(true);
        expect(labels[i], `label ${i}`).toBe(label);
      }
    });
    expect(new Set(labels).size).toBeGreaterThan(3); // not one class only
    dataset.dispose();
    sn.dispose(tensors);

    const trained = path.join(tmp, 'trained.safetensors');
    const t = cli('train', '--model', 'bnnet', '--variant', 'a', '--data', file, '--steps', '2', '--batch-size', '20', '--lr', '0.1', '--out', trained);
    expect(t.status, t.stderr).toBe(0);
    const small = path.join(tmp, 'digits-4.safetensors');
    expect(cli('data', 'export', '--format', 'digits', '--limit', '4', '--out', small).status).toBe(0);
    const out = path.join(tmp, 's.json');
    const s = cli('spectrum', '--weights', trained, '--input', small, '--out', out);
    expect(s.status, s.stderr).toBe(0);
    expect(JSON.parse(fs.readFileSync(out, 'utf8')).singularValues).toHaveLength(40); // 4 images x 10 classes
    // Progress on stderr from the start, and the rows as the job reports them.
    expect(s.stderr).toMatch(/^spectrum: 4 examples, cut stem, exact$/m);
  });

  it('checks its flags and the output before reading anything', () => {
    const cases: [string[], number, RegExp][] = [
      [['data', 'export', '--format', 'digits'], 2, /--out X\.safetensors is required/],
      [['data', 'export', '--format', 'digits', '--limit', '0', '--out', path.join(tmp, 'x.safetensors')], 2, /--limit must be an integer in 1\.\.\d+, got '0'/],
      [['data', 'export', '--format', 'mnist', '--out', path.join(tmp, 'x.safetensors')], 2, /--root is required for --format mnist/],
      [['data', 'export', '--format', 'svhn', '--out', path.join(tmp, 'x.safetensors')], 2, /--format must be digits, mnist, cifar10, cifar100, folder or packed, got 'svhn'/],
      [['data', 'export', '--format', 'digits', '--out', path.join(tmp, 'no-such-folder', 'x.safetensors')], 1, /cannot write .*x\.safetensors: the folder .*no-such-folder does not exist/],
    ];
    for (const [args, status, message] of cases) {
      const r = cli(...args);
      expect(r.status, args.join(' ')).toBe(status);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/images exported/);
    }
  });
});

describe('weights files and model flags', () => {
  it('a file that records its model and flags for another model: one line naming both', () => {
    const data = path.join(tmp, 'mm-data.safetensors');
    expect(cli('data', 'export', '--format', 'digits', '--limit', '8', '--out', data).status).toBe(0);
    const trained = path.join(tmp, 'mm-trained.safetensors');
    expect(cli('train', '--model', 'bnnet', '--variant', 'a', '--data', data, '--steps', '1', '--full-batch', '--lr', '0.1', '--out', trained).status).toBe(0);
    const out = path.join(tmp, 'y.safetensors');
    const wrong = cli('forward', '--model', 'preact-resnet', '--depth', '18', '--shortcut', 'mod', '--weights', trained, '--input', data, '--out', out);
    expect(wrong.status).toBe(2);
    expect(wrong.stderr.trim().split('\n')).toHaveLength(1);
    expect(wrong.stderr).toMatch(/holds bnnet --variant a \(--model preact-resnet --depth 18 --shortcut mod was asked for\): drop the model flags or pass matching ones/);
    // Another variant of the same model is another model too.
    const variant = cli('spectrum', '--model', 'bnnet', '--variant', 'c', '--weights', trained, '--input', data, '--out', path.join(tmp, 's.json'));
    expect(variant.status).toBe(2);
    expect(variant.stderr).toMatch(/holds bnnet --variant a \(--model bnnet --variant c was asked for\)/);
    // Matching flags, or none, load it.
    expect(cli('forward', '--model', 'bnnet', '--variant', 'a', '--weights', trained, '--input', data, '--out', out).status).toBe(0);
    expect(cli('forward', '--weights', trained, '--input', data, '--out', out).status).toBe(0);
    expect(fs.existsSync(out)).toBe(true);
  });

  it('weights only whose tensors do not fit the flags: one line with counts and a couple of names', () => {
    const weights = path.join(tmp, 'bnnet-init.safetensors');
    expect(cli('init', '--model', 'bnnet', '--variant', 'a', '--out', weights).status).toBe(0);
    const data = path.join(tmp, 'mm-data.safetensors');
    const r = cli('forward', '--model', 'resnet', '--weights', weights, '--input', data, '--out', path.join(tmp, 'never.safetensors'));
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(
      /does not fit --model resnet --depth 18: 39 of its 39 tensors are not in the model \([\w.]+, [\w.]+, \.\.\.\); \d+ of the model's \d+ are not in the file \([\w.]+, [\w.]+, \.\.\.\); skipnorm init made it for bnnet --variant a: check the model flags/,
    );
    // Same names, other shapes: the first of them with both shapes.
    const preact = path.join(tmp, 'preact-init.safetensors');
    expect(cli('init', '--model', 'preact-resnet', '--out', preact).status).toBe(0);
    const shapes = cli('weight-spectra', '--model', 'preact-resnet', '--classes', '100', '--weights', preact, '--out', path.join(tmp, 'w.json'));
    expect(shapes.status).toBe(2);
    expect(shapes.stderr.trim().split('\n')).toHaveLength(1);
    expect(shapes.stderr).toMatch(/does not fit --model preact-resnet --depth 18 --shortcut orig --classes 100: 2 have other shapes \(linear\.\w+: \[10(, 512)?\] in the file, \[100(, 512)?\] in the model\)/);
    // BNNet's variants share their parameters: one init file starts any of them.
    expect(cli('forward', '--model', 'bnnet', '--variant', 'c', '--weights', weights, '--input', data, '--out', path.join(tmp, 'y.safetensors')).status).toBe(0);
  });
});
