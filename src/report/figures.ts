/**
 * Figures as SVG, written by hand (no plotting dependency): panels of histograms (values outside
 * the range in bars of their own), line charts with +-1 std bands (linear or log y), and tables.
 * PNG copies come from rendering the SVG with resvg (png.ts). Colours are fixed per series so
 * that variants read the same in every figure.
 */

export const COLORS = ['#d62728', '#1f77b4', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];
const FONT = 'font-family="DejaVu Sans, Arial, sans-serif"';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const fmt = (v: number) => {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) return v.toExponential(0);
  return Number(v.toPrecision(3)).toString();
};

function svg(width: number, height: number, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    ...body,
    '</svg>\n',
  ].join('\n');
}

function text(x: number, y: number, s: string, options: { size?: number; anchor?: string; rotate?: boolean; weight?: string } = {}): string {
  const rotate = options.rotate ? ` transform="rotate(-90 ${x} ${y})"` : '';
  return `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${FONT} font-size="${options.size ?? 12}" text-anchor="${options.anchor ?? 'middle'}"${options.weight ? ` font-weight="${options.weight}"` : ''}${rotate}>${esc(s)}</text>`;
}

// "Nice" tick values covering [lo, hi].
function ticks(lo: number, hi: number, count = 5): number[] {
  const span = hi - lo || 1;
  const step0 = span / count;
  const mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= step0)!;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

// 1, 2, 5 x 10^k inside [lo, hi] (more mantissas when the range is short).
function logTicks(lo: number, hi: number): number[] {
  for (const mantissas of [[1], [1, 2, 5], [1, 1.5, 2, 3, 5, 7]]) {
    const out: number[] = [];
    for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
      for (const m of mantissas) {
        const v = Number((m * 10 ** e).toPrecision(6));
        if (v >= lo && v <= hi) out.push(v);
      }
    }
    if (out.length >= 3) return out;
  }
  return [lo, hi].map((v) => Number(v.toPrecision(2)));
}

interface Frame {
  x: number;
  y: number;
  w: number;
  h: number;
}

function axes(f: Frame, xTicks: number[], yTicks: number[], sx: (v: number) => number, sy: (v: number) => number, labels: { x?: string; y?: string; title?: string }, yTickLabel = fmt): string[] {
  const out = [`<rect x="${f.x}" y="${f.y}" width="${f.w}" height="${f.h}" fill="none" stroke="#333"/>`];
  for (const t of xTicks) {
    const x = sx(t);
    out.push(`<line x1="${x}" y1="${f.y + f.h}" x2="${x}" y2="${f.y + f.h + 4}" stroke="#333"/>`, text(x, f.y + f.h + 16, fmt(t), { size: 11 }));
  }
  for (const t of yTicks) {
    const y = sy(t);
    out.push(`<line x1="${f.x - 4}" y1="${y}" x2="${f.x}" y2="${y}" stroke="#333"/>`, `<line x1="${f.x}" y1="${y}" x2="${f.x + f.w}" y2="${y}" stroke="#eee"/>`);
    out.push(text(f.x - 6, y + 4, yTickLabel(t), { size: 11, anchor: 'end' }));
  }
  if (labels.x) out.push(text(f.x + f.w / 2, f.y + f.h + 34, labels.x));
  if (labels.y) out.push(text(f.x - 44, f.y + f.h / 2, labels.y, { rotate: true }));
  if (labels.title) out.push(text(f.x + f.w / 2, f.y - 8, labels.title, { size: 13, weight: 'bold' }));
  return out;
}

export interface HistogramPanel {
  title: string;
  /** Bucket counts (or densities) over equal bins of [lo, hi]. */
  values: number[];
  /** Values above hi, in the same unit: drawn as a hatched bar labelled "> hi" beside the range. */
  overflow?: number;
  /** Values below lo, likewise: a hatched bar labelled "< lo" before the range. */
  underflow?: number;
  color: string;
}

const OUTSIDE_BAR = 24; // width of an underflow or overflow bar
const OUTSIDE_GAP = 12; // between it and the range's bins

/**
 * Side-by-side histogram panels sharing the x range and y scale. Panels that give overflow or
 * underflow get a separate hatched bar with a dashed outline beyond the range's end (or before its
 * start), labelled "> hi" (or "< lo"), so that values outside the range are shown, not dropped.
 * `width` sets the whole figure's width (the panels share it).
 */
export function histogramPanels(panels: HistogramPanel[], options: { lo: number; hi: number; xLabel: string; yLabel: string; title?: string; width?: number }): string {
  const left = 70;
  const spacing = 60;
  const pw = options.width !== undefined ? Math.max(160, (options.width - left) / panels.length - spacing) : 300;
  const ph = 220;
  const top = options.title ? 56 : 36;
  const width = left + panels.length * (pw + spacing);
  const height = top + ph + 50;
  // Every panel reserves the same slots, so that their ranges line up.
  const before = panels.some((p) => p.underflow !== undefined) ? OUTSIDE_BAR + OUTSIDE_GAP : 0;
  const after = panels.some((p) => p.overflow !== undefined) ? OUTSIDE_BAR + OUTSIDE_GAP : 0;
  // Headroom above the tallest bar; more where outside bars carry their value above them.
  const yMax = Math.max(1e-12, ...panels.flatMap((p) => [...p.values, p.overflow ?? 0, p.underflow ?? 0])) * (before || after ? 1.12 : 1.05);
  const body: string[] = [];
  if (options.title) body.push(text(width / 2, 20, options.title, { size: 15, weight: 'bold' }));
  panels.forEach((p, i) => {
    const f = { x: left + i * (pw + spacing), y: top, w: pw, h: ph };
    const rangeX = f.x + before;
    const rangeW = f.w - before - after;
    const sx = (v: number) => rangeX + ((v - options.lo) / (options.hi - options.lo)) * rangeW;
    const sy = (v: number) => f.y + f.h - (v / yMax) * f.h;
    const bins = p.values.length;
    p.values.forEach((v, b) => {
      const x0 = sx(options.lo + (b * (options.hi - options.lo)) / bins);
      const x1 = sx(options.lo + ((b + 1) * (options.hi - options.lo)) / bins);
      body.push(`<rect x="${x0.toFixed(2)}" y="${sy(v).toFixed(2)}" width="${Math.max(0, x1 - x0 - 1).toFixed(2)}" height="${(f.y + f.h - sy(v)).toFixed(2)}" fill="${p.color}" fill-opacity="0.8"/>`);
    });
    const outside = (v: number | undefined, x: number, label: string, separator: number) => {
      if (v === undefined) return;
      body.push(`<line x1="${separator}" y1="${f.y}" x2="${separator}" y2="${f.y + f.h}" stroke="#999" stroke-dasharray="4 3"/>`);
      body.push(`<rect class="outside" x="${x.toFixed(2)}" y="${sy(v).toFixed(2)}" width="${OUTSIDE_BAR}" height="${(f.y + f.h - sy(v)).toFixed(2)}" fill="url(#hatch-${i})" stroke="${p.color}" stroke-dasharray="3 2"/>`);
      body.push(text(x + OUTSIDE_BAR / 2, f.y + f.h + 16, label, { size: 11 }));
      body.push(text(x + OUTSIDE_BAR / 2, sy(v) - 4, fmt(v), { size: 10 }));
    };
    if (p.underflow !== undefined || p.overflow !== undefined) {
      body.push(`<defs><pattern id="hatch-${i}" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="white"/><line x1="0" y1="0" x2="0" y2="6" stroke="${p.color}" stroke-width="3"/></pattern></defs>`);
    }
    outside(p.underflow, f.x, `< ${fmt(options.lo)}`, rangeX - OUTSIDE_GAP / 2);
    outside(p.overflow, rangeX + rangeW + OUTSIDE_GAP, `> ${fmt(options.hi)}`, rangeX + rangeW + OUTSIDE_GAP / 2);
    body.push(...axes(f, ticks(options.lo, options.hi, 6), ticks(0, yMax, 4), sx, sy, { x: options.xLabel, y: i === 0 ? options.yLabel : undefined, title: p.title }));
  });
  return svg(width, height, body);
}

export interface LineSeries {
  label: string;
  x: number[];
  mean: number[];
  /** +-1 std band (omitted: no band). */
  std?: number[];
  color: string;
}

/**
 * Mean curves with +-1 std bands; logY plots on a log10 axis (bands clipped above zero). The plot
 * takes the figure's `width` (default 900) less the legend, which is as wide as its longest label.
 */
export function lineChart(series: LineSeries[], options: { xLabel: string; yLabel: string; title?: string; logY?: boolean; width?: number }): string {
  // About 7 px per character at 12 px, after the 24 px line sample and its gaps.
  const legend = 16 + 30 + 7 * Math.max(0, ...series.map((s) => s.label.length)) + 12;
  const f = { x: 80, y: options.title ? 44 : 24, w: Math.max(240, (options.width ?? 900) - 80 - legend), h: 300 };
  const width = f.x + f.w + legend;
  const height = f.y + f.h + 56;
  const all = series.flatMap((s) => s.mean.map((m, i) => [m - (s.std?.[i] ?? 0), m + (s.std?.[i] ?? 0)]).flat()).filter(Number.isFinite);
  const xs = series.flatMap((s) => s.x);
  const xLo = Math.min(...xs);
  const xHi = Math.max(...xs, xLo + 1);
  let yLo = Math.min(...all);
  let yHi = Math.max(...all);
  const log = options.logY === true;
  if (log) {
    const positive = all.filter((v) => v > 0);
    yLo = Math.log10(Math.min(...positive));
    yHi = Math.log10(Math.max(...positive));
  }
  if (!(yHi > yLo)) yHi = yLo + 1;
  const pad = (yHi - yLo) * 0.05;
  yLo -= pad;
  yHi += pad;
  const tr = (v: number) => (log ? Math.log10(Math.max(v, 10 ** yLo)) : v);
  const sx = (v: number) => f.x + ((v - xLo) / (xHi - xLo)) * f.w;
  const sy = (v: number) => f.y + f.h - ((tr(v) - yLo) / (yHi - yLo)) * f.h;
  const body: string[] = [];
  if (options.title) body.push(text(f.x + f.w / 2, 20, options.title, { size: 15, weight: 'bold' }));
  const yTicks = log ? logTicks(10 ** yLo, 10 ** yHi) : ticks(yLo, yHi, 5);
  body.push(...axes(f, ticks(xLo, xHi, 6), yTicks, sx, sy, { x: options.xLabel, y: options.yLabel + (log ? ' (log scale)' : '') }));
  series.forEach((s, k) => {
    if (s.std) {
      const upper = s.x.map((x, i) => `${sx(x).toFixed(2)},${sy(s.mean[i] + s.std![i]).toFixed(2)}`);
      const lower = s.x.map((x, i) => `${sx(x).toFixed(2)},${sy(s.mean[i] - s.std![i]).toFixed(2)}`).reverse();
      body.push(`<polygon points="${[...upper, ...lower].join(' ')}" fill="${s.color}" fill-opacity="0.18" stroke="none"/>`);
    }
    body.push(`<polyline points="${s.x.map((x, i) => `${sx(x).toFixed(2)},${sy(s.mean[i]).toFixed(2)}`).join(' ')}" fill="none" stroke="${s.color}" stroke-width="2"/>`);
    const ly = f.y + 16 + k * 20;
    body.push(`<line x1="${f.x + f.w + 16}" y1="${ly - 4}" x2="${f.x + f.w + 40}" y2="${ly - 4}" stroke="${s.color}" stroke-width="3"/>`, text(f.x + f.w + 46, ly, s.label, { anchor: 'start' }));
  });
  return svg(width, height, body);
}

/** A table as a figure: a header row and rows of strings. */
export function tableFigure(header: string[], rows: string[][], title?: string): string {
  const colWidth = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)) * 8 + 24);
  const width = colWidth.reduce((a, b) => a + b, 0) + 20;
  const top = title ? 40 : 12;
  const rowH = 24;
  const height = top + rowH * (rows.length + 1) + 12;
  const body: string[] = [];
  if (title) body.push(text(width / 2, 22, title, { size: 14, weight: 'bold' }));
  [header, ...rows].forEach((row, r) => {
    let x = 10;
    const y = top + r * rowH;
    if (r === 0) body.push(`<rect x="10" y="${y}" width="${width - 20}" height="${rowH}" fill="#f0f0f0"/>`);
    row.forEach((cell, c) => {
      body.push(text(x + colWidth[c] / 2, y + 16, cell, { size: 12, weight: r === 0 ? 'bold' : undefined }));
      x += colWidth[c];
    });
    body.push(`<line x1="10" y1="${y + rowH}" x2="${width - 10}" y2="${y + rowH}" stroke="#ccc"/>`);
  });
  return svg(width, height, body);
}
