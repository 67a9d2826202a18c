#!/usr/bin/env node
/**
 * The `skipnorm` command. Subcommands live in their own files; this one dispatches.
 */
import { runDemo } from './demo';
import { runInfo } from './info';

const USAGE = `Usage: skipnorm <command> [options]

Commands:
  info [--json]     skipnorm and LibTorch versions, CUDA, devices, threads
  demo              a tiny end-to-end check: tensors, autograd, a worker-thread job

Options:
  -h, --help        this text
  -v, --version     skipnorm's version
`;

type Command = (args: string[]) => Promise<number> | number;

const COMMANDS: Record<string, Command> = {
  info: runInfo,
  demo: runDemo,
};

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '-h' || command === '--help' || command === 'help') {
    process.stdout.write(USAGE);
    return command === undefined ? 1 : 0;
  }
  if (command === '-v' || command === '--version') {
    const { version } = await import('../info');
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  const run = COMMANDS[command];
  if (!run) {
    process.stderr.write(`skipnorm: unknown command '${command}'\n\n${USAGE}`);
    return 2;
  }
  return run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const e = error as Error;
    process.stderr.write(`skipnorm: ${e.name === 'Error' ? '' : `${e.name}: `}${e.message}\n`);
    process.exitCode = 1;
  },
);
