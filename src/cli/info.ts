/** `skipnorm info [--json]` */
import { info } from '../info';
import { defineCommand, parseCommand } from './command-spec';

export const INFO = defineCommand({
  name: 'info',
  summary: 'skipnorm and LibTorch versions, CUDA, devices and threads.',
  usage: ['info [--json]'],
  flags: { json: { type: 'boolean', default: false, help: 'print the same as JSON' } },
});

export function runInfo(args: string[]): number {
  const values = parseCommand(INFO, args);
  if (!values) return 0;
  const i = info();
  if (values.json) {
    process.stdout.write(`${JSON.stringify(i, null, 2)}\n`);
    return 0;
  }
  const lines = [
    `skipnorm   ${i.version}`,
    `LibTorch   ${i.libtorch}${i.libtorchSource ? ` (${i.libtorchSource}: ${i.libtorchDir})` : ''}`,
    `CUDA       ${i.cuda ? `yes (runtime ${i.cudaVersion}, cuDNN ${i.cudnn ?? 'none'})` : i.builtWithCuda ? 'built with CUDA, no GPU visible' : 'no (CPU build)'}`,
    `devices    ${i.devices.join(', ')}`,
    ...i.gpus.map((g) => `${g.device.padEnd(10)} ${g.name}, ${(g.memoryBytes / 2 ** 30).toFixed(1)} GiB, compute capability ${g.computeCapability}, ${g.multiprocessors} multiprocessors`),
    `threads    ${i.threads} intra-op in jobs, ${i.mainThreadThreads} on the JavaScript thread, ${i.interopThreads} inter-op`,
    `node       ${i.node} on ${i.platform}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}
