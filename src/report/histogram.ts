/**
 * The histograms the reports draw: counts over equal bins of [lo, hi] with the values outside
 * kept in an underflow and an overflow count (the figures draw them as bars of their own, so no
 * value silently disappears); and the averaged order statistics of a set of spectra, the
 * "average spectrum" that the authors' plots.py histograms.
 */

export interface Binned {
  /** counts[i]: values in [lo + i w, lo + (i + 1) w), the last bin closed on the right (w = (hi - lo) / bins). */
  counts: number[];
  /** Values below lo. */
  underflow: number;
  /** Values above hi. */
  overflow: number;
  /** How many values were binned in all (counts, underflow and overflow together). */
  total: number;
}

/** Counts `values` over `bins` equal bins of [lo, hi]; values outside go to underflow/overflow. */
export function binValues(values: ArrayLike<number>, lo: number, hi: number, bins: number): Binned {
  if (!Number.isFinite(lo) || !Number.isFinite(hi) || !(hi > lo)) throw new TypeError(`binValues: expected finite lo < hi, got [${lo}, ${hi}]`);
  if (!Number.isInteger(bins) || bins < 1) throw new TypeError(`binValues: bins must be a positive integer, got ${bins}`);
  const counts = new Array<number>(bins).fill(0);
  let underflow = 0;
  let overflow = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (Number.isNaN(v)) throw new TypeError(`binValues: value ${i} is NaN`);
    if (v < lo) underflow++;
    else if (v > hi) overflow++;
    else counts[Math.min(bins - 1, Math.floor(((v - lo) / (hi - lo)) * bins))]++;
  }
  return { counts, underflow, overflow, total: values.length };
}

/**
 * The k-th largest value averaged over spectra, for every k: each spectrum sorted in descending
 * order, then averaged position by position. All spectra must have the same length.
 */
export function averagedOrderStatistics(spectra: readonly (readonly number[])[]): number[] {
  if (spectra.length === 0) throw new TypeError('averagedOrderStatistics: expected at least one spectrum');
  const n = spectra[0].length;
  if (!spectra.every((s) => s.length === n)) throw new TypeError(`averagedOrderStatistics: every spectrum must have ${n} values`);
  const sums = new Array<number>(n).fill(0);
  for (const s of spectra) {
    const sorted = [...s].sort((a, b) => b - a);
    for (let k = 0; k < n; k++) sums[k] += sorted[k];
  }
  return sums.map((v) => v / spectra.length);
}
