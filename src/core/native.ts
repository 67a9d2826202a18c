/**
 * Loads the native addon: the local build (build/Release/skipnorm.node) first, then a prebuild
 * (prebuilds/<platform>-<arch>/, prebuildify's layout, made by scripts/prebuild.js). If neither loads, ONE LoadError lists
 * the fixes. The addon must run against the LibTorch version it was compiled with.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isMainThread } from 'node:worker_threads';
import { AbortError, LoadError, TorchError } from './errors';

export const PACKAGE_ROOT = path.resolve(__dirname, '..', '..');

/** The raw native surface. Internal: use the typed API. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type NativeBinding = Record<string, any> & { torchVersion: string };

export interface BuildRecord {
  libtorchVersion: string;
  libtorchDir: string;
  libtorchLib: string;
  libtorchSource: string;
  cuda: boolean;
}

function readBuildRecord(dir: string): BuildRecord | null {
  const file = path.join(dir, 'skipnorm-build.json');
  if (!fs.existsSync(file)) return null;
  return JSON.parse(fs.readFileSync(file, 'utf8')) as BuildRecord;
}

/** The LibTorch version found at a folder now (it may have changed since the build). */
function libtorchVersionAt(dir: string): string | null {
  for (const rel of [['torch', 'headeronly', 'version.h'], ['torch', 'csrc', 'api', 'include', 'torch', 'version.h']]) {
    const file = path.join(dir, 'include', ...rel);
    if (!fs.existsSync(file)) continue;
    const m = /#define\s+TORCH_VERSION\s*\\?\s*"([^"]+)"/.exec(fs.readFileSync(file, 'utf8'));
    if (m) return m[1];
  }
  return null;
}

const FIXES = [
  'run `npm rebuild skipnorm` (or `npm run build:native` in a clone) to build the addon against the LibTorch found now',
  'set LIBTORCH to a LibTorch folder, or install torch in the active Python, before rebuilding',
  'check that the LibTorch the addon was built against still exists (see build/skipnorm-build.json)',
];

function loadError(problems: string[]): LoadError {
  return new LoadError(
    `skipnorm: the native addon could not be loaded.\n${problems.map((p) => `  - ${p}`).join('\n')}\nFixes:\n${FIXES.map((f) => `  - ${f}`).join('\n')}`,
  );
}

/** @internal Throws a LoadError when the LibTorch at the recorded folder is not the one compiled in. */
export function checkLibTorchVersion(compiledVersion: string, record: BuildRecord | null, where: string): void {
  if (!record) return;
  if (record.libtorchVersion && record.libtorchVersion.split('+')[0] !== compiledVersion) {
    throw loadError([`${where} was compiled with LibTorch ${compiledVersion} but its record says ${record.libtorchVersion}`]);
  }
  const now = libtorchVersionAt(record.libtorchDir);
  if (now && now !== compiledVersion) {
    throw loadError([
      `${where} was built against LibTorch ${compiledVersion}, but ${record.libtorchDir} now holds LibTorch ${now}`,
    ]);
  }
}

/** prebuildify's file in prebuilds/<platform>-<arch>/ (N-API builds are tagged `napi`). */
function prebuildFile(dir: string): string {
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.node'));
  const file = files.find((f) => f.includes('napi')) ?? files[0];
  if (!file) throw new Error(`no .node file in ${dir}`);
  return path.join(dir, file);
}

function tryLoad(file: string): NativeBinding {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(file) as NativeBinding;
}

/** @internal Loads the addon of a package folder: its local build, then its prebuild. */
export function loadBinding(root: string = PACKAGE_ROOT): NativeBinding {
  const problems: string[] = [];
  const local = path.join(root, 'build', 'Release', 'skipnorm.node');
  if (fs.existsSync(local)) {
    try {
      const binding = tryLoad(local);
      checkLibTorchVersion(binding.torchVersion, readBuildRecord(path.join(root, 'build')), 'the local build');
      return binding;
    } catch (e) {
      if (e instanceof LoadError) throw e;
      problems.push(`the local build ${local} failed to load: ${(e as Error).message}`);
    }
  } else {
    problems.push(`there is no local build at ${local}`);
  }
  const prebuildDir = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
  if (fs.existsSync(prebuildDir)) {
    try {
      const binding = tryLoad(prebuildFile(prebuildDir));
      checkLibTorchVersion(binding.torchVersion, readBuildRecord(prebuildDir), 'the prebuilt addon');
      return binding;
    } catch (e) {
      if (e instanceof LoadError) throw e;
      problems.push(`the prebuilt addon in ${prebuildDir} failed to load: ${(e as Error).message}`);
    }
  } else {
    problems.push(`there is no prebuilt addon for ${process.platform}-${process.arch}`);
  }
  throw loadError(problems);
}

let binding: NativeBinding | undefined;

// How long running jobs get to reach their next cancellation check before the process ends
// without native teardown.
const EXIT_GRACE_MS = 2000;

function stopJobsAtExit(code: number | string | undefined): void {
  const status = Number(code ?? process.exitCode ?? 0);
  binding?.stopJobsAtExit(Number.isInteger(status) ? status : 1, EXIT_GRACE_MS);
}

// While a module's forward is traced (nn/graph.ts), every native call goes through this.
let interceptor: NativeBinding | null = null;

/** @internal Routes native calls through a tracing proxy (null: straight to the addon). */
export function setNativeInterceptor(proxy: NativeBinding | null): void {
  interceptor = proxy;
}

/** The native addon, loaded on first use (through the tracer while a forward is traced). */
export function native(): NativeBinding {
  return interceptor ?? rawNative();
}

/** @internal The addon itself, never through the tracer. */
export function rawNative(): NativeBinding {
  if (!binding) {
    binding = loadBinding();
    binding.setErrorClasses(TorchError, AbortError);
    // process.exit() or an uncaught exception while a job runs: stop the jobs before native
    // teardown (the first listener, so later ones run with the jobs already stopped).
    if (isMainThread) process.prependListener('exit', stopJobsAtExit);
  }
  return binding;
}
