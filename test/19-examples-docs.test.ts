/**
 * The documentation for library users does not rot: every example in examples/ runs, and the API
 * reference in docs/api is what typedoc makes of the current declarations (`npm run docs:api`).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '..');

function files(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath, e.name))).sort();
}

describe('examples and API reference', () => {
  const expected: Record<string, RegExp> = {
    'residual-network.js': /total parameters: 2,580[\s\S]*without the skip, logits \[ 4, 10 \]/,
    'train.js': /test accuracy 0\.\d+ on 2000 held-out digits/,
    'spectra.js': /step 20: 320 singular values[\s\S]*top Hessian eigenvalue/,
    'own-networks.js': /ReZeroNet: 3917 parameters, test accuracy 0\.\d+\n  after stem [\s\S]*after blocks\.2 [\s\S]*DenseNet: 2434 parameters[\s\S]*after block1\.1 [\s\S]*after transition [\s\S]*after bn /,
  };
  it('every example runs', () => {
    expect(fs.readdirSync(path.join(root, 'examples')).filter((f) => f.endsWith('.js')).sort()).toEqual(Object.keys(expected).sort());
    for (const [file, output] of Object.entries(expected)) {
      const r = spawnSync(process.execPath, [path.join(root, 'examples', file)], { cwd: root, encoding: 'utf8' });
      expect(r.status, `${file}: ${r.stderr}`).toBe(0);
      expect(r.stdout, file).toMatch(output);
    }
  }, 300_000);

  it('docs/api is up to date with the declarations (regenerate with npm run docs:api)', () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'skipnorm-api-'));
    try {
      const r = spawnSync(process.execPath, [path.join(root, 'node_modules', 'typedoc', 'bin', 'typedoc'), '--out', out], { cwd: root, encoding: 'utf8' });
      expect(r.status, r.stdout + r.stderr).toBe(0);
      const committed = path.join(root, 'docs', 'api');
      expect(files(out)).toEqual(files(committed));
      for (const f of files(out)) expect(fs.readFileSync(path.join(out, f), 'utf8'), f).toBe(fs.readFileSync(path.join(committed, f), 'utf8'));
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  }, 120_000);
});
