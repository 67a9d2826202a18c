'use strict';
// native/tensor/op_table.h: one table of {name, function} per kind, in code order.

const { KINDS } = require('./op-kinds');

// A macro argument splits at a comma outside parentheses and brackets (braces and template
// angle brackets do not protect it), so such an expression goes in parentheses.
function macroArg(expr) {
  let depth = 0;
  let quoted = false;
  for (let i = 0; i < expr.length; i++) {
    const c = expr[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === '(' || c === '[') depth++;
    else if (c === ')' || c === ']') depth--;
    else if (c === ',' && depth === 0) return `(${expr})`;
  }
  return expr;
}

function nativeTable(ops, header) {
  const lines = [
    ...header.map((line) => `// ${line}`),
    '//',
    '// The tables behind the native entry points that dispatch on an op code (native/tensor/ops.cc):',
    '// an op\'s code is its index in its table, the same code src/tensor/op-table.ts gives it.',
    '#pragma once',
    '',
    '#include <ATen/ATen.h>',
    '',
    'namespace skipnorm::op_table {',
    '',
    'template <typename Fn>',
    'struct Op {',
    '  const char* name;',
    '  Fn fn;',
    '};',
    '',
  ];
  for (const kind of Object.keys(KINDS)) lines.push(`using ${KINDS[kind].type} = ${KINDS[kind].signature};`);
  for (const [kind, spec] of Object.entries(KINDS)) {
    const macro = `SN_${kind.toUpperCase()}`;
    lines.push(
      '',
      `#define ${macro}(name, expr) Op<${spec.type}>{name, ${spec.lambda('expr')}}`,
      `inline const Op<${spec.type}> ${spec.table}[] = {`,
      ...ops[kind].map((op) => `    ${macro}("${op.name}", ${macroArg(op.aten)}),`),
      '};',
      `#undef ${macro}`,
    );
  }
  lines.push('', '}  // namespace skipnorm::op_table', '');
  return lines.join('\n');
}

module.exports = { nativeTable };
