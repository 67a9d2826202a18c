#!/usr/bin/env node
/**
 * The `skipnorm` command. Subcommands live in their own files (listed in commands.ts); this one
 * dispatches and turns errors into messages and exit codes.
 */
import { UsageError } from './command-spec';
import { commandHelp, commandName, COMMANDS, mainHelp } from './commands';

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '-h' || command === '--help') {
    process.stdout.write(mainHelp());
    return command === undefined ? 1 : 0;
  }
  if (command === 'help') {
    if (rest.length === 0) {
      process.stdout.write(mainHelp());
      return 0;
    }
    const text = commandHelp(rest.join(' '));
    if (text === null) throw new UsageError(`help: unknown command '${rest.join(' ')}'`);
    process.stdout.write(text);
    return 0;
  }
  if (command === '-v' || command === '--version') {
    const { version } = await import('../info');
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  // Own properties only: 'constructor' or 'toString' name no command.
  const entry = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (!entry) {
    process.stderr.write(`skipnorm: unknown command '${command}'\n\n${mainHelp()}`);
    return 2;
  }
  return entry.run(rest);
}

const argv = process.argv.slice(2);
main(argv).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const e = error as Error & { code?: string };
    // Usage errors (ours, and any parseArgs error not already turned into one) exit 2, like unknown commands.
    const usage = e instanceof UsageError || (typeof e.code === 'string' && e.code.startsWith('ERR_PARSE_ARGS'));
    const name = commandName(argv);
    const hint = usage && !e.message.includes('--help') && !(e instanceof UsageError && !e.pointToHelp) ? `\n(skipnorm ${name ?? ''}${name ? ' ' : ''}--help lists ${name ? 'its' : 'the commands and'} flags)` : '';
    process.stderr.write(`skipnorm: ${e.name === 'Error' || usage ? '' : `${e.name}: `}${e.message}${hint}\n`);
    process.exitCode = usage ? 2 : 1;
  },
);
