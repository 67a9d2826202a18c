'use strict';
// Puts a GPU report written by scripts/gpu/check.sh into docs/benchmarks.md, replacing the one
// recorded before (between the gpu-report markers), so the notes always hold the latest run.
// Usage: node scripts/gpu/record.js path/to/gpu-report.md
const fs = require('node:fs');
const path = require('node:path');

const [reportFile] = process.argv.slice(2);
if (!reportFile || !fs.existsSync(reportFile)) {
  console.error('usage: node scripts/gpu/record.js GPU-REPORT.md (written by scripts/gpu/check.sh)');
  process.exit(2);
}
const notes = path.join(__dirname, '..', '..', 'docs', 'benchmarks.md');
const [start, end] = ['<!-- gpu-report:start -->', '<!-- gpu-report:end -->'];
const block = `${start}\n${fs.readFileSync(reportFile, 'utf8').trim()}\n${end}`;
const text = fs.readFileSync(notes, 'utf8');
const at = text.indexOf(start);
const next = at < 0 ? `${text.trimEnd()}\n\n## GPU\n\n\`bash scripts/gpu/check.sh\` on the lent GPU machine (see the script's header).\n\n${block}\n` : `${text.slice(0, at)}${block}${text.slice(text.indexOf(end) + end.length)}`;
const temp = `${notes}.tmp`;
fs.writeFileSync(temp, next);
fs.renameSync(temp, notes);
console.log(`recorded ${reportFile} in ${path.relative(process.cwd(), notes)}`);
