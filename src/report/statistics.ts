/**
 * The statistics behind the reports' comparisons: Welch's t-test (two samples, unequal variances)
 * and, on top of it, whether a predicted order between variants (say (a) > (b) > (c)) is supported
 * by the trials. The Student-t distribution function comes from the regularised incomplete beta
 * function, evaluated by its continued fraction; no statistics dependency is needed.
 */

/** ln Γ(x) for x > 0, by the Lanczos approximation (g = 7, 9 terms; relative error near 1e-15). */
export function logGamma(x: number): number {
  if (!(x > 0)) throw new RangeError(`logGamma: expected x > 0, got ${x}`);
  // Below 0.5 the reflection formula keeps the series in the region where it is accurate.
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6,
    1.5056327351493116e-7,
  ];
  const z = x - 1;
  let sum = c[0];
  for (let i = 1; i < c.length; i++) sum += c[i] / (z + i);
  const t = z + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(sum);
}

// The continued fraction of I_x(a, b) (modified Lentz), accurate where x < (a + 1) / (a + b + 2).
function betaContinuedFraction(x: number, a: number, b: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let f = d;
  for (let m = 1; m <= 10_000; m++) {
    // Even step, then odd step of the fraction's terms.
    for (const numerator of [(m * (b - m) * x) / ((a + 2 * m - 1) * (a + 2 * m)), (-(a + m) * (a + b + m) * x) / ((a + 2 * m) * (a + 2 * m + 1))]) {
      d = 1 + numerator * d;
      if (Math.abs(d) < tiny) d = tiny;
      c = 1 + numerator / c;
      if (Math.abs(c) < tiny) c = tiny;
      d = 1 / d;
      f *= c * d;
    }
    if (Math.abs(c * d - 1) < 1e-16) return f;
  }
  return f; // converged to the last digits the loop could reach
}

/** The regularised incomplete beta function I_x(a, b) for 0 <= x <= 1, a, b > 0. */
export function regularizedIncompleteBeta(x: number, a: number, b: number): number {
  if (!(a > 0) || !(b > 0)) throw new RangeError(`regularizedIncompleteBeta: expected a, b > 0, got a = ${a}, b = ${b}`);
  if (!(x >= 0 && x <= 1)) throw new RangeError(`regularizedIncompleteBeta: expected 0 <= x <= 1, got ${x}`);
  if (x === 0 || x === 1) return x;
  // x^a (1 - x)^b / (a B(a, b)), in logs so that large a and b do not overflow.
  const front = Math.exp(a * Math.log(x) + b * Math.log1p(-x) - (logGamma(a) + logGamma(b) - logGamma(a + b)));
  // The fraction converges fast on the side x < (a + 1) / (a + b + 2); the other side by symmetry.
  if (x < (a + 1) / (a + b + 2)) return (front * betaContinuedFraction(x, a, b)) / a;
  return 1 - (front * betaContinuedFraction(1 - x, b, a)) / b;
}

/** P(T > t) for T Student-t with df degrees of freedom (df > 0, not necessarily whole). */
export function studentTUpperTail(t: number, df: number): number {
  if (!(df > 0)) throw new RangeError(`studentT: expected df > 0, got ${df}`);
  if (Number.isNaN(t)) return NaN;
  if (t === Infinity) return 0;
  if (t === -Infinity) return 1;
  // P(|T| > |t|) = I_{df / (df + t^2)}(df / 2, 1 / 2); half of it lies on each side.
  const half = 0.5 * regularizedIncompleteBeta(df / (df + t * t), df / 2, 0.5);
  return t >= 0 ? half : 1 - half;
}

/** P(T <= t) for T Student-t with df degrees of freedom. */
export function studentTCdf(t: number, df: number): number {
  return 1 - studentTUpperTail(t, df);
}

/** 'greater': the alternative that a's mean is above b's; 'less': below; 'two-sided': either. */
export type Alternative = 'two-sided' | 'greater' | 'less';

export interface WelchResult {
  /** (mean a - mean b) / its standard error; ±Infinity when both samples are constant and differ. */
  t: number;
  /** Welch-Satterthwaite degrees of freedom. */
  df: number;
  p: number;
  meanA: number;
  meanB: number;
  alternative: Alternative;
}

function checkSample(values: readonly number[], name: string): void {
  if (!Array.isArray(values)) throw new TypeError(`welchTTest: ${name} must be an array of numbers`);
  if (values.length < 2) throw new TypeError(`welchTTest: ${name} needs at least 2 values, got ${values.length}`);
  if (!values.every((v) => typeof v === 'number' && Number.isFinite(v))) throw new TypeError(`welchTTest: ${name} must hold finite numbers only`);
}

/**
 * Welch's t-test of the means of two independent samples without assuming equal variances.
 * When both samples are constant the test degenerates: equal means give p = 1, different ones
 * t = ±Infinity and p = 0 for the alternatives they agree with.
 */
export function welchTTest(a: readonly number[], b: readonly number[], alternative: Alternative = 'two-sided'): WelchResult {
  checkSample(a, 'a');
  checkSample(b, 'b');
  if (!['two-sided', 'greater', 'less'].includes(alternative)) throw new TypeError(`welchTTest: alternative must be 'two-sided', 'greater' or 'less', got ${JSON.stringify(alternative)}`);
  const moments = (x: readonly number[]) => {
    const m = x.reduce((s, v) => s + v, 0) / x.length;
    return { m, v: x.reduce((s, v) => s + (v - m) ** 2, 0) / (x.length - 1), n: x.length };
  };
  const A = moments(a);
  const B = moments(b);
  const wa = A.v / A.n;
  const wb = B.v / B.n;
  const se2 = wa + wb;
  let t: number;
  let df: number;
  if (se2 === 0) {
    t = A.m === B.m ? 0 : A.m > B.m ? Infinity : -Infinity;
    df = A.n + B.n - 2; // no variance to weigh: the pooled count
  } else {
    t = (A.m - B.m) / Math.sqrt(se2);
    df = (se2 * se2) / ((wa * wa) / (A.n - 1) + (wb * wb) / (B.n - 1));
  }
  let p: number;
  if (se2 === 0 && t === 0) p = 1;
  else if (alternative === 'greater') p = studentTUpperTail(t, df);
  else if (alternative === 'less') p = studentTUpperTail(-t, df);
  else p = Math.min(1, 2 * studentTUpperTail(Math.abs(t), df));
  return { t, df, p, meanA: A.m, meanB: B.m, alternative };
}

/** How the trials bear on a predicted order. */
export type OrderVerdict =
  /** Every adjacent pair differs significantly in the predicted direction. */
  | 'supported'
  /** At least one adjacent pair differs significantly against the predicted direction. */
  | 'contradicted'
  /** Neither: some adjacent pair shows no significant difference. */
  | 'not significant'
  /** Fewer than MIN_TRIALS values in some group: no test was made. */
  | 'not enough trials';

/** The fewest values per group for which an order is tested (below it the report states none). */
export const MIN_TRIALS = 3;
/** The significance level of each pairwise test. */
export const ALPHA = 0.05;

export interface PairComparison extends WelchResult {
  /** The group predicted to be higher, and the one predicted to be lower. */
  higher: string;
  lower: string;
  /** What the test shows: the predicted direction, the opposite one, or no significant difference. */
  outcome: 'as predicted' | 'opposite' | 'no significant difference';
}

export interface OrderTest {
  verdict: OrderVerdict;
  /** Adjacent pairs of the predicted order, each tested two-sided at `alpha` (empty when not enough trials). */
  pairs: PairComparison[];
  alpha: number;
  alternative: 'two-sided';
  /** The fewest values in any group. */
  trials: number;
}

/**
 * Tests a predicted descending order `groups[0] > groups[1] > ...` between group means with
 * two-sided Welch's t-tests of each adjacent pair at level `alpha`. The order is 'supported' only
 * when every pair is significant in the predicted direction (an intersection-union test: the
 * whole claim then holds at level alpha too). Groups with fewer than MIN_TRIALS values give
 * 'not enough trials' and no test.
 */
export function testOrder(groups: readonly { label: string; values: readonly number[] }[], alpha: number = ALPHA): OrderTest {
  if (!Array.isArray(groups) || groups.length < 2) throw new TypeError('testOrder: groups must be an array of at least 2 { label, values }');
  if (!(alpha > 0 && alpha < 1)) throw new TypeError(`testOrder: alpha must lie in (0, 1), got ${alpha}`);
  const trials = Math.min(...groups.map((g) => g.values.length));
  if (trials < MIN_TRIALS) return { verdict: 'not enough trials', pairs: [], alpha, alternative: 'two-sided', trials };
  const pairs = groups.slice(1).map((lower, i): PairComparison => {
    const higher = groups[i];
    const r = welchTTest(higher.values, lower.values, 'two-sided');
    const outcome = r.p >= alpha ? 'no significant difference' : r.t > 0 ? 'as predicted' : 'opposite';
    return { ...r, higher: higher.label, lower: lower.label, outcome };
  });
  const verdict: OrderVerdict = pairs.some((p) => p.outcome === 'opposite') ? 'contradicted' : pairs.every((p) => p.outcome === 'as predicted') ? 'supported' : 'not significant';
  return { verdict, pairs, alpha, alternative: 'two-sided', trials };
}

/** p as a report prints it: 3 significant digits, or "< 1e-6". */
export function formatP(p: number): string {
  return p < 1e-6 ? '< 1e-6' : `= ${Number(p.toPrecision(3))}`;
}
