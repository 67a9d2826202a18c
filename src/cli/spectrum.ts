/**
 * `skipnorm spectrum [<model flags>] --weights FILE --input X.safetensors --cut stem|all|NAME[,NAME..]
 *   [--cut-depth D] [--stem NAME] [--method exact|lanczos] [--k K] [--eval] --out S.json`: the
 * later-layer Jacobian spectrum of the tensor `input`. A cut is any module's dotted name
 * (`layer2.1.bn2`), 'stem' (`--stem` names it where the guess fails) or 'all' (every block from the
 * stem on, containers looked inside to `--cut-depth` levels, default 2; `--depth` is the model's).
 * S.json holds `singularValues` (descending) for one cut, or `cuts: [{ name, module,
 * singularValues }]` for `--cut all` or a list; with `--method lanczos [--k K]` the Ritz values,
 * and the accurate extremes as `largest` and `smallest`.
 */
import { dispose } from '../core/memory';
import { checkWritable, readSafetensors, writeAtomically } from '../io/safetensors';
import { jacobianSpectrum, layerwiseJacobianSpectra } from '../spectra/jacobian';
import { defineCommand, parseCommand } from './command-spec';
import { MODEL_FLAGS_WITH_WEIGHTS, MODEL_RETIRED, modelFromFlags, required, UsageError } from './model-flags';
import { duration, Progress } from './progress';

export const SPECTRUM = defineCommand({
  name: 'spectrum',
  summary: "The later-layer Jacobian spectrum (docs/paper.md, section 2) of the tensor 'input' at a cut, or at every cut.",
  usage: [
    'spectrum [model flags] --weights FILE --input X.safetensors [--cut stem|all|NAME[,NAME..]] [--cut-depth D] [--stem NAME]',
    '                  [--method exact|lanczos] [--k K] [--eval] --out S.json',
  ],
  notes: "A cut is any module's dotted name (layer2.1.bn2), the stem, or all blocks from the stem on (containers looked inside to --cut-depth levels). Progress goes to stderr.",
  flags: {
    ...MODEL_FLAGS_WITH_WEIGHTS,
    weights: { type: 'string', value: 'FILE', help: 'the weights (required; a file that records its model needs no model flags)' },
    input: { type: 'string', value: 'X.safetensors', help: "a file with the tensor 'input', the batch (required; skipnorm data export writes one)" },
    cut: { type: 'string', value: 'stem|all|NAME[,NAME..]', default: 'stem', help: 'where the Jacobian is taken: the stem, every block, or named modules' },
    'cut-depth': { type: 'string', value: 'D', help: '--cut all: levels of containers to look inside (default 2)' },
    stem: { type: 'string', value: 'NAME', help: "the module 'stem' names, where the guess (the layer before the first block) fails" },
    method: { type: 'string', choices: ['exact', 'lanczos'], default: 'exact', help: 'every singular value, or the extremes matrix-free' },
    k: { type: 'string', value: 'K', help: 'lanczos: extremes reported at each end (default 5)' },
    eval: { type: 'boolean', default: false, help: 'batch norm with running statistics (default: batch statistics, as the paper)' },
    out: { type: 'string', value: 'S.json', help: 'where the singular values go, as JSON (required)' },
  },
  retired: MODEL_RETIRED,
});

export async function runSpectrum(args: string[]): Promise<number> {
  const values = parseCommand(SPECTRUM, args);
  if (!values) return 0;
  const inputFile = required(values.input, 'input X.safetensors');
  const weightsFile = required(values.weights, 'weights FILE');
  const outFile = required(values.out, 'out S.json');
  checkWritable(outFile, 'spectrum --out');
  if (values.method !== 'exact' && values.method !== 'lanczos') throw new UsageError(`--method must be exact or lanczos, got '${values.method}'`);
  const method = values.method as 'exact' | 'lanczos';
  const k = values.k === undefined ? 5 : Number(values.k);
  if (!Number.isInteger(k) || k < 1) throw new UsageError(`--k must be a positive integer, got '${values.k}'`);
  const depth = values['cut-depth'] === undefined ? undefined : Number(values['cut-depth']);
  if (depth !== undefined && (!Number.isInteger(depth) || depth < 1)) throw new UsageError(`--cut-depth must be a positive integer, got '${values['cut-depth']}'`);
  const cut = values.cut.includes(',') ? values.cut.split(',') : values.cut;
  if (depth !== undefined && cut !== 'all') throw new UsageError('--cut-depth applies to --cut all');
  const stem = values.stem;
  const { model, spec } = await modelFromFlags(values, weightsFile);
  const input = readSafetensors(inputFile).tensors;
  let progress: SpectrumProgress | undefined;
  try {
    if (!input.input) throw new UsageError(`${inputFile} has no tensor named 'input'`);
    const mode = values.eval ? 'eval' : 'train';
    progress = new SpectrumProgress(`${input.input.shape[0]} examples, cut ${values.cut}, ${method}`, method);
    const onProgress = progress.onProgress;
    let result: unknown;
    if (cut === 'all' || Array.isArray(cut)) {
      const { cuts } = await layerwiseJacobianSpectra(model, input.input, { cut, depth, stem, mode, method, k, onProgress });
      result = {
        model: spec,
        mode,
        method,
        cuts: cuts.map((c) => ({ name: c.name, module: c.cut, jacobianShape: c.jacobianShape, singularValues: Array.from(c.singularValues.dataSync() as Float64Array), largest: c.largest, smallest: c.smallest })),
      };
      dispose(cuts.map((c) => c.singularValues));
    } else {
      const r = await jacobianSpectrum(model, input.input, { cut, stem, mode, method, k, onProgress });
      result = { model: spec, mode, method, cut: values.cut, jacobianShape: r.jacobianShape, singularValues: Array.from(r.singularValues.dataSync() as Float64Array), largest: r.largest, smallest: r.smallest };
      r.singularValues.dispose();
    }
    progress.end();
    writeAtomically(outFile, [Buffer.from(`${JSON.stringify(result)}\n`)]);
    process.stdout.write(`wrote ${typeof cut === 'string' && cut !== 'all' ? `the spectrum at '${cut}'` : 'layer-wise spectra'} to ${outFile}\n`);
    return 0;
  } finally {
    progress?.end();
    dispose(input);
    model.dispose();
  }
}

/**
 * Progress on stderr while the spectrum is computed: the Jacobian rows done (exact; the job reports
 * every 64 rows) with an estimate of the time left, then the singular values; the Lanczos method
 * reports no steps, so there the line gives the time so far. A ticker keeps the line moving between
 * reports (the forward pass, the decomposition). A cut's rows count from zero again: "cut 2".
 */
class SpectrumProgress {
  private readonly progress = new Progress();
  private readonly started = Date.now();
  private cutStarted = Date.now();
  private cut = 1;
  private rows = 0;
  private totalRows = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly what: string, private readonly method: 'exact' | 'lanczos') {
    this.progress.status(`spectrum: ${what}`, true);
    this.timer = setInterval(() => this.show(false), 500);
    this.timer.unref(); // never what keeps the process alive
  }

  readonly onProgress = (p: { rows: number; totalRows: number }): void => {
    if (p.rows < this.rows) {
      this.cut++;
      this.cutStarted = Date.now();
    }
    const first = this.totalRows === 0;
    this.rows = p.rows;
    this.totalRows = p.totalRows;
    this.show(first || p.rows === p.totalRows);
  };

  private show(force: boolean): void {
    const seconds = (Date.now() - this.cutStarted) / 1000;
    const cut = this.cut > 1 ? `cut ${this.cut}: ` : '';
    const elapsed = `${duration((Date.now() - this.started) / 1000)} elapsed`;
    if (this.method === 'exact' && this.totalRows > 0 && this.rows < this.totalRows) {
      const eta = this.rows > 0 ? (seconds / this.rows) * (this.totalRows - this.rows) : Infinity;
      this.progress.status(`spectrum: ${cut}Jacobian rows ${this.rows}/${this.totalRows}  ${elapsed}  eta ${duration(eta)}`, force);
    } else {
      // Before the first report (after 64 rows) the rows are under way, their count not yet known.
      const phase = this.method === 'lanczos' ? 'Lanczos' : this.totalRows > 0 ? `${this.totalRows} rows done, singular values` : 'Jacobian rows';
      this.progress.status(`spectrum: ${cut}${phase}  ${elapsed}`, force);
    }
  }

  end(): void {
    clearInterval(this.timer);
    this.progress.end();
  }
}
