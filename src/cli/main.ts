#!/usr/bin/env node
/**
 * The `skipnorm` command. Subcommands live in their own files; this one dispatches.
 */
import { runData } from './data';
import { runDemo } from './demo';
import { runForward } from './forward';
import { runInfo } from './info';
import { runInit } from './init';
import { UsageError } from './model-flags';
import { runReproduce } from './reproduce';
import { runSpectrum } from './spectrum';
import { runTrain } from './train';
import { runWeightSpectra } from './weight-spectra';

const USAGE = `Usage: skipnorm <command> [options]

Commands:
  info [--json]     skipnorm and LibTorch versions, CUDA, devices, threads
  reproduce mnist [--trials T] [--steps S] [--data DIR] [--out RUN_DIR] [--resume]
                    the paper's MNIST experiment (default: the bundled digits), with a report
  reproduce cifar10|cifar100 --data DIR [--lrs 0.2,0.1] [--trials T] [--epochs E] [--subset N] [--out RUN_DIR] [--resume]
  reproduce imagenet --data DIR --depth 18|34|50|101|152 [--image-size S] [--batch-size B] [--epochs E] [--out RUN_DIR] [--resume]
                    orig. vs mod. pre-activation ResNets; DIR holds the CIFAR batches, or train/ and val/ image folders
  demo              a tiny end-to-end check: tensors, autograd, a worker-thread job
  init <model> --seed S --out FILE
                    a model's initial weights (PyTorch's initialisation) as safetensors
  forward [<model>] --weights FILE --input X.safetensors [--train] --out Y.safetensors
                    logits of the tensor 'input' (eval mode; --train: batch statistics)
  train [<model>] --data FILE.safetensors (--epochs E | --steps S) (--batch-size B | --full-batch) --lr LR
        [--momentum M] [--weight-decay W] [--nesterov] [--optimizer sgd|adam|adamw]
        [--schedule step:30:0.2 | multistep:30,60:0.1 | cosine:90 | warmup:5+cosine:90] [--schedule-unit epoch|step]
        [--label-smoothing X] [--clip-grad-norm X] [--weights INIT] --seed S
        [--checkpoint-dir D [--checkpoint-every N] [--keep N]] [--resume] [--out FINAL.safetensors] [--json]
                    trains on the tensors 'input' (float32) and 'labels' (int64) in C++, off the event loop
  spectrum [<model>] --weights FILE --input X.safetensors --cut stem|all|NAME[,NAME..] [--cut-depth D] [--stem NAME]
        [--method exact|lanczos] [--k K] [--eval] --out S.json
                    the later-layer Jacobian spectrum (PAPER.md section 2) of the tensor 'input' at a cut:
                    any module's dotted name (layer2.1.bn2), the stem, or all blocks from the stem on
                    (containers looked inside to --cut-depth levels, default 2)
  weight-spectra <model> --weights FILE --method circular-exact|power|reshape --input-size H,W [--k K] --out W.json
                    every layer's weight spectrum (convolutions as operators on their input size)
  data stats --format mnist|cifar10|cifar100|folder|packed|digits [--root DIR] [--split train|test]
        [--labels fine|coarse] [--on-corrupt fail|skip] [--threads N] [--json]
                    count, per-class counts, per-channel mean/std of pixels in [0, 1]
  data pack --format ... --root DIR [--split train|test] --size S|H,W --out FILE [--threads N]
                    a memory-mapped copy, every image resized (shorter side) and center-cropped

Model flags:
  --model bnnet --variant a|b|c
  --model preact-resnet --depth 18|34|50|101|152 --shortcut orig|mod|none [--classes N] [--input cifar|imagenet]
  --model resnet --depth 18|34|50|101|152 [--no-skip] [--classes N]
  none, for forward, train and spectrum, when --weights names a file that records its model
  (saved by sn.save or train --out)

Options:
  -h, --help        this text
  -v, --version     skipnorm's version
`;

type Command = (args: string[]) => Promise<number> | number;

const COMMANDS: Record<string, Command> = {
  info: runInfo,
  demo: runDemo,
  init: runInit,
  forward: runForward,
  train: runTrain,
  spectrum: runSpectrum,
  'weight-spectra': runWeightSpectra,
  data: runData,
  reproduce: runReproduce,
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
  // Own properties only: 'constructor' or 'toString' name no command.
  const run = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
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
    const e = error as Error & { code?: string };
    // Usage errors (ours, and parseArgs' unknown or malformed options) exit 2, like unknown commands.
    const usage = e instanceof UsageError || (typeof e.code === 'string' && e.code.startsWith('ERR_PARSE_ARGS'));
    process.stderr.write(`skipnorm: ${e.name === 'Error' || usage ? '' : `${e.name}: `}${e.message}${usage ? '\n(skipnorm --help lists the commands and flags)' : ''}\n`);
    process.exitCode = usage ? 2 : 1;
  },
);
