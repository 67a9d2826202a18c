/**
 * Each command declares its flags once, in a table (type, default, allowed values, one line of
 * help); the same table configures node:util's parseArgs and prints `skipnorm <command> --help`,
 * so the help cannot miss a flag the command accepts, nor list one it refuses.
 */
import { parseArgs } from 'node:util';

/** A mistake in how the command was called: exits 2 (parseArgs' own errors become these too). */
export class UsageError extends Error {
  /** Whether the message ends with a pointer to the command's --help (not where it is about a file). */
  readonly pointToHelp: boolean;

  constructor(message: string, options: { pointToHelp?: boolean } = {}) {
    super(message);
    this.name = 'UsageError';
    this.pointToHelp = options.pointToHelp ?? true;
  }
}

export interface Flag {
  type: 'string' | 'boolean';
  /** One line: what the flag does (the help adds the default). */
  help: string;
  /** The value's name in the help (`--out FILE`); default: the choices joined by '|', else 'X'. */
  value?: string;
  /** The only values accepted (checked after parsing, the error naming the flag). */
  choices?: readonly string[];
  default?: string | boolean;
  /** May be given several times (the values come as a list). */
  multiple?: boolean;
  short?: string;
  /** The heading the help lists the flag under (default 'Options'). */
  group?: string;
}

export type FlagTable = Record<string, Flag>;

/** A flag refused with a message that names its replacement, e.g. a renamed flag's old values. */
export interface RetiredFlag {
  flag: string;
  /** Refused only with one of these values (any value when absent). */
  values?: readonly string[];
  message: string;
}

export interface CommandSpec<F extends FlagTable = FlagTable> {
  /** As typed after `skipnorm`: 'train', 'data export'. */
  name: string;
  /** One line for `skipnorm --help`. */
  summary: string;
  /** Synopsis lines, each after `skipnorm `. */
  usage: string[];
  /** Text printed after the usage (a few lines). */
  notes?: string;
  flags: F;
  retired?: RetiredFlag[];
}

type ValueOf<T extends Flag> = T['type'] extends 'boolean' ? boolean : T extends { multiple: true } ? string[] : string;
type WithDefault<F extends FlagTable> = { [K in keyof F]: F[K] extends { default: string | boolean } ? K : never }[keyof F];

/** The parsed flags: those with a default are always present. */
export type FlagValues<F extends FlagTable> = { [K in WithDefault<F>]: ValueOf<F[K]> } & { [K in Exclude<keyof F, WithDefault<F>>]?: ValueOf<F[K]> };

/** Declares a command (keeps the table's literal types, so that its values are typed). */
export function defineCommand<const F extends FlagTable>(spec: CommandSpec<F>): CommandSpec<F> {
  return spec;
}

/** 'a', 'a or b', 'a, b or c'. */
export function alternatives(values: readonly string[]): string {
  return values.length <= 1 ? values.join('') : `${values.slice(0, -1).join(', ')} or ${values.at(-1)}`;
}

function flagLabel(name: string, flag: Flag): string {
  const short = flag.short ? `-${flag.short}, ` : '';
  if (flag.type === 'boolean') return `${short}--${name}`;
  return `${short}--${name} ${flag.value ?? flag.choices?.join('|') ?? 'X'}`;
}

const HELP_FLAG: Flag = { type: 'boolean', short: 'h', help: 'this text' };

/** The text of `skipnorm <command> --help`: usage, notes, then every flag with its help and default. */
export function helpText(spec: CommandSpec): string {
  const groups = new Map<string, [string, string][]>();
  const rows = [...Object.entries(spec.flags), ['help', HELP_FLAG] as [string, Flag]];
  for (const [name, flag] of rows) {
    const group = flag.group ?? 'Options';
    const shown = flag.default === undefined || flag.default === false || flag.type === 'boolean' ? '' : ` (default ${flag.default})`;
    if (!groups.has(group)) groups.set(group, []);
    groups.get(group)!.push([flagLabel(name, flag), `${flag.help}${shown}`]);
  }
  // One column for the labels, as wide as the widest up to a limit (longer ones push their text on).
  const width = Math.min(34, Math.max(...[...groups.values()].flat().map(([label]) => label.length)));
  // A line that starts with a space goes on the one before it (a long synopsis, wrapped).
  const lines = spec.usage.map((u, i) => (u.startsWith(' ') ? `       ${u}` : `${i === 0 ? 'Usage: ' : '       '}skipnorm ${u}`));
  lines.push('', spec.summary);
  if (spec.notes) lines.push(spec.notes);
  for (const [group, entries] of groups) {
    lines.push('', `${group}:`);
    for (const [label, help] of entries) lines.push(`  ${label.padEnd(width)}  ${help}`);
  }
  return `${lines.join('\n')}\n`;
}

// Edit distance, for "did you mean" on a mistyped flag.
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length];
}

function retiredUse(spec: CommandSpec, args: string[]): RetiredFlag | undefined {
  for (const r of spec.retired ?? []) {
    for (let i = 0; i < args.length; i++) {
      const a = args[i];
      const value = a === `--${r.flag}` ? args[i + 1] : a.startsWith(`--${r.flag}=`) ? a.slice(r.flag.length + 3) : undefined;
      if (a !== `--${r.flag}` && value === undefined) continue;
      if (!r.values || (value !== undefined && r.values.includes(value))) return r;
    }
  }
  return undefined;
}

/**
 * Parses a command's arguments by its table. `--help` or `-h` prints the command's help to stdout
 * and returns null (the command then exits 0); mistakes are UsageErrors naming the flag.
 */
export function parseCommand<F extends FlagTable>(spec: CommandSpec<F>, args: string[]): FlagValues<F> | null {
  const end = args.indexOf('--');
  const own = end < 0 ? args : args.slice(0, end);
  if (own.includes('--help') || own.includes('-h')) {
    process.stdout.write(helpText(spec));
    return null;
  }
  const retired = retiredUse(spec, own);
  if (retired) throw new UsageError(retired.message);
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string; default?: string | boolean }> = {};
  for (const [name, f] of Object.entries(spec.flags)) {
    options[name] = { type: f.type };
    if (f.multiple) options[name].multiple = true;
    if (f.short) options[name].short = f.short;
    if (f.default !== undefined) options[name].default = f.default;
  }
  let values: Record<string, unknown>;
  try {
    ({ values } = parseArgs({ args, options, strict: true, allowPositionals: false }));
  } catch (e) {
    throw parseError(spec, e as Error & { code?: string });
  }
  for (const [name, f] of Object.entries(spec.flags)) {
    if (!f.choices) continue;
    const given = values[name];
    for (const v of Array.isArray(given) ? given : given === undefined ? [] : [given]) {
      if (!f.choices.includes(v as string)) throw new UsageError(`--${name} must be ${alternatives(f.choices)}, got '${v}'`);
    }
  }
  return values as FlagValues<F>;
}

// parseArgs' messages, shorter, naming the command whose help lists its flags.
function parseError(spec: CommandSpec, e: Error & { code?: string }): Error {
  if (typeof e.code !== 'string' || !e.code.startsWith('ERR_PARSE_ARGS')) return e;
  const help = `skipnorm ${spec.name} --help lists its flags`;
  const unknown = /Unknown option '([^']+)'/.exec(e.message);
  if (unknown) {
    const typed = unknown[1].replace(/^-+/, '');
    const near = Object.keys(spec.flags)
      .map((name) => [name, distance(typed, name)] as const)
      .filter(([name, d]) => d <= Math.max(1, Math.floor(name.length / 4)))
      .sort((a, b) => a[1] - b[1])[0];
    return new UsageError(`${spec.name}: unknown option '${unknown[1]}'${near ? ` (did you mean --${near[0]}?)` : ''}; ${help}`);
  }
  const positional = /Unexpected argument '([^']+)'/.exec(e.message);
  if (positional) return new UsageError(`${spec.name}: unexpected argument '${positional[1]}' (every value follows its flag, e.g. --model NAME); ${help}`);
  const missing = /Option '(?:-\w, )?(--[^\s']+) <value>' argument missing/.exec(e.message);
  if (missing) return new UsageError(`${spec.name}: ${missing[1]} needs a value; ${help}`);
  return new UsageError(`${spec.name}: ${e.message.replace(/\s*\n\s*/g, ' ')}; ${help}`);
}
