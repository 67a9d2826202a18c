/**
 * Before the tests: where the Python oracle is (CI makes it with `npm run oracle`), the golden
 * files whose float32 numbers depend on the processor are computed again on this machine, once per
 * machine and version of the scripts (in .golden-local/<key>/), and the golden tests compare with
 * those: PyTorch's kernels round differently on another processor, and a test must pass on any.
 * Without the oracle, or with SKIPNORM_GOLDEN=committed, the tests use the committed files in
 * test/golden/ (helpers.ts, readGolden), under tolerances that allow for another processor.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const oracle = require('../scripts/golden/oracle.js') as {
  root: string;
  findOracle(): string | null;
  machineKey(python: string): string;
  runScripts(python: string, scripts: string[], outDir: string, stdio?: 'inherit' | 'ignore'): boolean;
  MACHINE_DEPENDENT: string[];
};

export default function setup(): void {
  if (process.env.SKIPNORM_GOLDEN === 'committed') return;
  const python = oracle.findOracle();
  if (!python) return;
  const dir = path.join(oracle.root, '.golden-local', oracle.machineKey(python));
  const files = oracle.MACHINE_DEPENDENT.map((s) => s.replace(/\.py$/, '.json'));
  if (!files.every((f) => fs.existsSync(path.join(dir, f)))) {
    const started = Date.now();
    const partial = `${dir}.partial-${process.pid}`;
    fs.rmSync(partial, { recursive: true, force: true });
    fs.mkdirSync(partial, { recursive: true });
    if (!oracle.runScripts(python, oracle.MACHINE_DEPENDENT, partial, 'ignore')) {
      fs.rmSync(partial, { recursive: true, force: true });
      console.warn('golden: the oracle could not compute this machine\'s golden files: the tests use the committed ones');
      return;
    }
    fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(partial, dir);
    console.warn(`golden: computed this machine's golden files with ${python} in ${((Date.now() - started) / 1000).toFixed(0)} s (${path.relative(oracle.root, dir)})`);
  }
  process.env.SKIPNORM_GOLDEN_DIR = dir;
}
