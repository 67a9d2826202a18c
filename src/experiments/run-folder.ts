/**
 * A run folder: config.json (everything needed to rerun), raw results, TensorBoard event files,
 * figures and report.html. Opening one that exists needs --resume and the same configuration
 * (the environment it runs in is recorded, not compared); every file is written atomically, so
 * an interrupted run leaves only whole files behind.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeAtomically } from '../io/safetensors';
import { svgToPng } from '../report/png';

export interface OpenOptions {
  /**
   * What the run is computed with (versions, device, threads): recorded in config.json under
   * `environment` but not compared on resume, since a resumed run may go on elsewhere. A resume
   * whose environment differs from the recorded ones adds it to `resumedWith`, so the folder says
   * which environments its results come from.
   */
  environment?: Record<string, unknown>;
  /**
   * Values that settings absent from an older config.json had (they were added to the protocol
   * later): a saved run without such a key resumes as if it held this value.
   */
  assumed?: Record<string, unknown>;
}

export class RunFolder {
  /** `config`: config.json as it is on disk (with `environment`, and `resumedWith` after resumes elsewhere). */
  private constructor(
    readonly dir: string,
    readonly config: Record<string, unknown>,
  ) {}

  /** Creates the folder (or reopens it with resume), writing or checking config.json. */
  static open(dir: string, config: Record<string, unknown>, resume: boolean, options: OpenOptions = {}): RunFolder {
    const file = path.join(dir, 'config.json');
    // A folder that holds nothing but its config (a run that failed before its first result, on
    // bad data say) has nothing to lose: it is started afresh.
    if (fs.existsSync(file) && !resume && fs.readdirSync(dir).every((name) => name === 'config.json')) fs.rmSync(file);
    const unchecked = new Set(['environment', 'resumedWith']);
    let saved: Record<string, unknown> | null = null;
    if (fs.existsSync(file)) {
      if (!resume) throw new RunFolderError(`${dir} holds a run already: add --resume to continue it, or choose another --out`);
      saved = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
      for (const key of new Set([...Object.keys(saved), ...Object.keys(config)])) {
        if (unchecked.has(key)) continue;
        const before = key in saved ? saved[key] : options.assumed?.[key];
        if (JSON.stringify(before) !== JSON.stringify(config[key])) {
          throw new RunFolderError(`cannot resume ${dir}: it was started with ${key} = ${JSON.stringify(before)}, this run has ${JSON.stringify(config[key])}`);
        }
      }
    } else if (fs.existsSync(dir) && fs.readdirSync(dir).length > 0) {
      throw new RunFolderError(`${dir} exists and is not a skipnorm run folder (no config.json): choose another --out`);
    }
    fs.mkdirSync(dir, { recursive: true });
    if (!saved) {
      const run = new RunFolder(dir, options.environment ? { ...config, environment: options.environment } : { ...config });
      run.writeJson('config.json', run.config);
      return run;
    }
    const env = options.environment;
    const resumedWith = (saved.resumedWith as unknown[] | undefined) ?? [];
    const run = new RunFolder(dir, saved);
    if (env && ![saved.environment, ...resumedWith].some((e) => JSON.stringify(e) === JSON.stringify(env))) {
      const updated = new RunFolder(dir, { ...saved, resumedWith: [...resumedWith, env] });
      updated.writeJson('config.json', updated.config);
      return updated;
    }
    return run;
  }

  path(...parts: string[]): string {
    return path.join(this.dir, ...parts);
  }

  /** An empty folder inside the run (what an interrupted attempt left there is removed first). */
  emptyFolder(...parts: string[]): string {
    const dir = this.path(...parts);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    return dir;
  }

  has(name: string): boolean {
    return fs.existsSync(this.path(name));
  }

  readJson<T>(name: string): T {
    return JSON.parse(fs.readFileSync(this.path(name), 'utf8')) as T;
  }

  writeText(name: string, text: string | Buffer): void {
    fs.mkdirSync(path.dirname(this.path(name)), { recursive: true });
    writeAtomically(this.path(name), [typeof text === 'string' ? Buffer.from(text) : text]);
  }

  writeJson(name: string, value: unknown): void {
    this.writeText(name, `${JSON.stringify(value)}\n`);
  }

  /** rows: arrays of cells; strings are quoted when they need to be. */
  writeCsv(name: string, header: string[], rows: (string | number)[][]): void {
    const cell = (v: string | number) => (typeof v === 'number' ? String(v) : /[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
    this.writeText(name, [header, ...rows].map((r) => r.map(cell).join(',')).join('\n') + '\n');
  }

  /** figures/<name>.svg and .png; returns their paths relative to the folder. */
  writeFigure(name: string, svg: string): { svg: string; png: string } {
    const rel = { svg: `figures/${name}.svg`, png: `figures/${name}.png` };
    this.writeText(rel.svg, svg);
    this.writeText(rel.png, svgToPng(svg));
    return rel;
  }
}

export class RunFolderError extends Error {
  override name = 'RunFolderError';
}

export function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

/** Sample standard deviation (n - 1), 0 for a single value. */
export function std(values: number[]): number {
  if (values.length < 2) return 0;
  const m = mean(values);
  return Math.sqrt(values.reduce((a, v) => a + (v - m) ** 2, 0) / (values.length - 1));
}

export const meanStd = (values: number[], digits = 4) => `${mean(values).toFixed(digits)} ± ${std(values).toFixed(digits)}`;
