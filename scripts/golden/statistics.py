"""Golden file for the reports' statistics (src/report/statistics.ts): Welch's t-test (t, the
Welch-Satterthwaite degrees of freedom, p for each alternative), the Student-t distribution
function and the regularised incomplete beta function, computed with mpmath at 40 digits.

The t distribution's tail is integrated numerically from its density (mpmath.quad), not taken
from the incomplete beta identity the TypeScript uses, so the two sides do not share a formula;
the script checks that both agree before it writes. mpmath comes with the oracle's torch (sympy
needs it). Writes test/golden/statistics.json; run through `npm run golden`.
"""
import json
import os

import mpmath as mp

mp.mp.dps = 40

# Samples as float64 values; the test reads them from the file and computes the same test.
SAMPLES = [
    ('clear difference, 5 vs 5', [0.61, 0.58, 0.66, 0.63, 0.6], [0.41, 0.45, 0.39, 0.44, 0.42]),
    ('small samples, 3 vs 4', [1.2, 1.5, 0.9], [1.1, 1.4, 1.0, 1.25]),
    ('unequal sizes and spreads, 10 vs 3', [2.31, 2.25, 2.4, 2.19, 2.36, 2.28, 2.33, 2.22, 2.3, 2.27], [1.9, 2.6, 2.1]),
    ('far apart (tiny p), 8 vs 8', [10.01, 10.02, 9.99, 10.0, 10.03, 9.98, 10.01, 10.0], [9.0, 9.01, 8.99, 9.02, 9.0, 8.98, 9.01, 9.0]),
    ('first below second', [0.012, 0.015, 0.011, 0.014], [0.02, 0.019, 0.025, 0.022, 0.018]),
    ('one constant sample', [0.5, 0.5, 0.5], [0.47, 0.52, 0.44]),
    ('loss-like values', [2.2831, 2.2712, 2.2904, 2.2787, 2.2851, 2.2699], [2.2402, 2.2655, 2.2511, 2.2377, 2.2618, 2.2544]),
]

T_CASES = [(0.5, 1), (-2.0, 2.5), (3.7, 7.3), (10.0, 4), (1.96, 1000), (0.1, 0.7), (25.0, 3), (-0.8, 12.25), (0.0, 5)]
BETA_CASES = [(0.3, 50, 60), (0.999, 0.5, 0.5), (1e-5, 2, 3), (0.5, 2.5, 0.5), (0.9, 0.7, 12.0), (0.2, 1, 1)]


def t_upper_tail(t, df):
    """P(T > t), by integrating the density."""
    t, df = mp.mpf(t), mp.mpf(df)
    c = mp.gamma((df + 1) / 2) / (mp.sqrt(df * mp.pi) * mp.gamma(df / 2))
    density = lambda x: c * (1 + x * x / df) ** (-(df + 1) / 2)  # noqa: E731
    if t >= 0:
        return mp.quad(density, [t, t + 1, t + 10, mp.inf])
    return 1 - mp.quad(density, [-t, -t + 1, -t + 10, mp.inf])


def t_upper_tail_by_beta(t, df):
    t, df = mp.mpf(t), mp.mpf(df)
    half = mp.betainc(df / 2, mp.mpf(1) / 2, 0, df / (df + t * t), regularized=True) / 2
    return half if t >= 0 else 1 - half


def welch(a, b):
    a = [mp.mpf(x) for x in a]
    b = [mp.mpf(x) for x in b]
    ma, mb = mp.fsum(a) / len(a), mp.fsum(b) / len(b)
    va = mp.fsum((x - ma) ** 2 for x in a) / (len(a) - 1)
    vb = mp.fsum((x - mb) ** 2 for x in b) / (len(b) - 1)
    wa, wb = va / len(a), vb / len(b)
    se2 = wa + wb
    t = (ma - mb) / mp.sqrt(se2)
    df = se2 ** 2 / (wa ** 2 / (len(a) - 1) + wb ** 2 / (len(b) - 1))
    upper = t_upper_tail(t, df)
    assert abs(upper - t_upper_tail_by_beta(t, df)) <= mp.mpf(10) ** -25 * max(upper, mp.mpf(10) ** -300), 'quad and betainc disagree'
    lower = t_upper_tail(-t, df)
    two_sided = 2 * min(upper, lower)
    return {'t': float(t), 'df': float(df), 'p': {'two-sided': float(two_sided), 'greater': float(upper), 'less': float(lower)}, 'meanA': float(ma), 'meanB': float(mb)}


def main():
    out = {
        'mpmath': mp.__version__,
        'welch': [{'name': name, 'a': a, 'b': b, **welch(a, b)} for name, a, b in SAMPLES],
        'studentT': [{'t': t, 'df': df, 'cdf': float(1 - t_upper_tail(t, df)), 'upper': float(t_upper_tail(t, df))} for t, df in T_CASES],
        'beta': [{'x': x, 'a': a, 'b': b, 'value': float(mp.betainc(a, b, 0, x, regularized=True))} for x, a, b in BETA_CASES],
    }
    out_dir = os.environ.get('SKIPNORM_GOLDEN_DIR') or os.path.join(os.path.dirname(__file__), '..', '..', 'test', 'golden')
    with open(os.path.join(out_dir, 'statistics.json'), 'w') as f:
        json.dump(out, f)
        f.write('\n')


if __name__ == '__main__':
    main()
