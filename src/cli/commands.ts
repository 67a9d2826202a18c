/**
 * The commands of `skipnorm`: how each runs and the flag tables it parses with, from which
 * `skipnorm --help` and `skipnorm <command> --help` are printed.
 */
import { helpText, type CommandSpec } from './command-spec';
import { DATA_ACTIONS, runData } from './data';
import { DEMO, runDemo } from './demo';
import { FORWARD, runForward } from './forward';
import { INFO, runInfo } from './info';
import { INIT, runInit } from './init';
import { REPRODUCE, runReproduce } from './reproduce';
import { runSpectrum, SPECTRUM } from './spectrum';
import { runTrain, TRAIN } from './train';
import { runWeightSpectra, WEIGHT_SPECTRA } from './weight-spectra';

export interface CommandEntry {
  run: (args: string[]) => Promise<number> | number;
  /** The command's tables: one, or one per action (data stats, data pack, ...). */
  specs: CommandSpec[];
}

export const COMMANDS: Record<string, CommandEntry> = {
  info: { run: runInfo, specs: [INFO] },
  demo: { run: runDemo, specs: [DEMO] },
  init: { run: runInit, specs: [INIT] },
  forward: { run: runForward, specs: [FORWARD] },
  train: { run: runTrain, specs: [TRAIN] },
  spectrum: { run: runSpectrum, specs: [SPECTRUM] },
  'weight-spectra': { run: runWeightSpectra, specs: [WEIGHT_SPECTRA] },
  data: { run: runData, specs: Object.values(DATA_ACTIONS) },
  reproduce: { run: runReproduce, specs: [REPRODUCE] },
};

/** Every table, e.g. for checking that each command's help lists all its flags. */
export function allSpecs(): CommandSpec[] {
  return Object.values(COMMANDS).flatMap((c) => c.specs);
}

/** The command (or command and action) that `argv` calls, for pointing at its help; null if none. */
export function commandName(argv: string[]): string | null {
  const [command, action] = argv;
  if (command === undefined || !Object.hasOwn(COMMANDS, command)) return null;
  const named = COMMANDS[command].specs.find((s) => s.name === `${command} ${action}`);
  return named ? named.name : command;
}

/** `skipnorm --help`: every command with its one-line summary. */
export function mainHelp(): string {
  const rows = allSpecs().map((s) => [s.name, s.summary]);
  const width = Math.max(...rows.map(([name]) => name.length));
  return [
    'Usage: skipnorm <command> [options]',
    '',
    'Commands:',
    ...rows.map(([name, summary]) => `  ${name.padEnd(width)}  ${summary}`),
    '',
    "skipnorm <command> --help lists a command's flags, each with what it does.",
    'Model flags (init, forward, train, spectrum, weight-spectra): --model bnnet|preact-resnet|resnet and its options;',
    'none when --weights names a file that records its model (saved by sn.save or train --out).',
    '',
    'Options:',
    '  -h, --help     this text',
    "  -v, --version  skipnorm's version",
    '',
  ].join('\n');
}

/** `skipnorm help <command>`: the command's help, as `skipnorm <command> --help`. */
export function commandHelp(name: string): string | null {
  const specs = Object.hasOwn(COMMANDS, name) ? COMMANDS[name].specs : allSpecs().filter((s) => s.name === name);
  return specs.length ? specs.map(helpText).join('\n') : null;
}
