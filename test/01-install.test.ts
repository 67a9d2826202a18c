/**
 * Layer 1: the addon is built, loads, reports what it runs on, and fails clearly when it cannot
 * load or when LibTorch changed under it.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as sn from '../src/index';
import { checkLibTorchVersion, loadBinding, PACKAGE_ROOT } from '../src/core/native';

const root = path.resolve(__dirname, '..');
const record = JSON.parse(fs.readFileSync(path.join(root, 'build', 'skipnorm-build.json'), 'utf8'));

describe('loading the addon', () => {
  it('finds the package root', () => {
    expect(PACKAGE_ROOT).toBe(root);
  });

  it('records the LibTorch it was built against, and runs with that version', () => {
    const info = sn.info();
    expect(info.libtorch).toBe(record.libtorchVersion.split('+')[0]);
    expect(info.version).toBe(JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).version);
    expect(info.devices[0]).toBe('cpu');
    expect(info.threads).toBeGreaterThanOrEqual(1);
    expect(typeof info.cuda).toBe('boolean');
    // One description per CUDA device (none on a CPU machine).
    expect(info.gpus.map((g) => g.device)).toEqual(info.devices.slice(1));
    for (const g of info.gpus) expect(g.memoryBytes).toBeGreaterThan(0);
  });

  it('raises ONE LoadError listing fixes when there is no addon', () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'skipnorm-noaddon-'));
    try {
      expect(() => loadBinding(empty)).toThrowError(sn.LoadError);
      try {
        loadBinding(empty);
      } catch (e) {
        const message = (e as Error).message;
        expect(message).toMatch(/no local build/);
        expect(message).toMatch(/no prebuilt addon/);
        expect(message).toMatch(/Fixes:/);
        expect(message).toMatch(/npm rebuild skipnorm/);
      }
    } finally {
      fs.rmSync(empty, { recursive: true, force: true });
    }
  });

  it('refuses a LibTorch whose version differs from the build', () => {
    const fake = fs.mkdtempSync(path.join(os.tmpdir(), 'skipnorm-fake-libtorch-'));
    try {
      const header = path.join(fake, 'include', 'torch', 'headeronly');
      fs.mkdirSync(header, { recursive: true });
      fs.writeFileSync(path.join(header, 'version.h'), '#define TORCH_VERSION \\\n  "9.9.9"\n');
      const tampered = { ...record, libtorchDir: fake };
      expect(() => checkLibTorchVersion(sn.info().libtorch, tampered, 'the local build')).toThrowError(
        /built against LibTorch .* now holds LibTorch 9\.9\.9/,
      );
      expect(() => checkLibTorchVersion('2.0.0', record, 'the local build')).toThrowError(/compiled with LibTorch 2\.0\.0/);
      // The real record passes.
      expect(() => checkLibTorchVersion(sn.info().libtorch, record, 'the local build')).not.toThrow();
    } finally {
      fs.rmSync(fake, { recursive: true, force: true });
    }
  });

  it('works from CommonJS and from ESM, with one module instance', () => {
    const cjs = spawnSync(process.execPath, ['-e', "const sn = require('skipnorm'); console.log(sn.tensor([1, 2, 3]).sum().item())"], { cwd: root, encoding: 'utf8' });
    expect(cjs.stderr).toBe('');
    expect(cjs.stdout.trim()).toBe('6');
    const esm = spawnSync(
      process.execPath,
      ['--input-type=module', '-e', "import * as sn from 'skipnorm'; import def from 'skipnorm'; console.log(sn.tensor([[1, 2], [3, 4]]).matmul(sn.eye(2)).sum().item(), sn.Tensor === def.Tensor)"],
      { cwd: root, encoding: 'utf8' },
    );
    expect(esm.stderr).toBe('');
    expect(esm.stdout.trim()).toBe('10 true');
  });

  it('ships type declarations for the public API', () => {
    const dts = fs.readFileSync(path.join(root, 'lib', 'index.d.ts'), 'utf8');
    expect(dts).toMatch(/export \{ Tensor/);
    expect(fs.existsSync(path.join(root, 'lib', 'tensor', 'tensor.d.ts'))).toBe(true);
  });

  it('the published package holds every file the install step needs', () => {
    const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const files = new Set((JSON.parse(r.stdout) as { files: { path: string }[] }[])[0].files.map((f) => f.path));
    // What scripts/install.js requires, transitively, and what the build reads.
    const needed = ['scripts/install.js', 'scripts/system-deps.js', 'scripts/build-native.js', 'scripts/libtorch/find.js', 'CMakeLists.txt', 'native/addon.cc', 'lib/index.js', 'lib/index.mjs', 'lib/cli/main.js'];
    for (const f of needed) expect(files.has(f), f).toBe(true);
    for (const f of fs.readdirSync(path.join(root, 'scripts')).filter((f) => f.endsWith('.js'))) {
      const source = fs.readFileSync(path.join(root, 'scripts', f), 'utf8');
      if (!files.has(`scripts/${f}`)) continue;
      for (const m of source.matchAll(/require\('\.\/([\w/-]+)'\)/g)) expect(files.has(`scripts/${m[1]}.js`) || files.has(`scripts/${m[1]}/index.js`), `${f} requires ${m[1]}`).toBe(true);
    }
  });
});
