/**
 * report.html: one self-contained page per run (figures referenced next to it), showing the
 * findings first, then the figures, tables and the configuration.
 */
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export interface ReportSection {
  heading: string;
  /** Paragraphs of plain text. */
  paragraphs?: string[];
  /** Figure files relative to the report (SVG shown, PNG linked). */
  figures?: { svg: string; png: string; caption: string }[];
  table?: { header: string[]; rows: string[][] };
}

export function reportHtml(title: string, sections: ReportSection[], config: unknown): string {
  const body = sections.map((s) => {
    const parts = [`<h2>${esc(s.heading)}</h2>`];
    for (const p of s.paragraphs ?? []) parts.push(`<p>${esc(p)}</p>`);
    if (s.table) {
      parts.push('<table>', `<tr>${s.table.header.map((h) => `<th>${esc(h)}</th>`).join('')}</tr>`);
      for (const r of s.table.rows) parts.push(`<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`);
      parts.push('</table>');
    }
    for (const f of s.figures ?? []) {
      parts.push(`<figure><img src="${esc(f.svg)}" alt="${esc(f.caption)}"><figcaption>${esc(f.caption)} (<a href="${esc(f.png)}">PNG</a>)</figcaption></figure>`);
    }
    return parts.join('\n');
  });
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>
body { font-family: "DejaVu Sans", Arial, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 1.6em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.8em 0; } th, td { border: 1px solid #ccc; padding: 4px 10px; text-align: right; }
th { background: #f3f3f3; } td:first-child, th:first-child { text-align: left; }
figure { margin: 1em 0; } img { max-width: 100%; border: 1px solid #eee; } figcaption { font-size: 0.9em; color: #555; }
pre { background: #f7f7f7; padding: 1em; overflow-x: auto; font-size: 0.85em; }
</style></head>
<body>
<h1>${esc(title)}</h1>
${body.join('\n')}
<h2>Configuration</h2>
<pre>${esc(JSON.stringify(config, null, 2))}</pre>
</body></html>
`;
}
