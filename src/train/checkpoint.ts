/**
 * Training checkpoints: one safetensors file per saved step, `checkpoint-<step>.safetensors`,
 * holding the model (`model.*`), the optimiser state (`optimizer.*`) and the CPU generator
 * (`rng.cpu`), with JSON metadata (format, step, epoch, the totals of the epoch so far, and the
 * run's settings). Each file is written atomically (temporary file, then rename), so a crash
 * mid-save leaves the previous checkpoint whole; only the newest `keep` files are kept. The data
 * order needs no saving: it follows from the seed and the epoch. fit's checkpoints are written
 * in this format by the training job itself, on a writer thread (native/train/checkpoint_writer.h);
 * saveCheckpoint writes one from JavaScript.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TorchError } from '../core/errors';
import { dispose } from '../core/memory';
import { native } from '../core/native';
import { readSafetensors, readSafetensorsMetadata, removeStaleTemporaries, writeSafetensors } from '../io/safetensors';
import type { Module } from '../nn/module';
import { Tensor, wrap } from '../tensor/tensor';
import type { Optimizer } from './optim';

export const CHECKPOINT_FORMAT = 'skipnorm-checkpoint/1';
const NAME = /^checkpoint-(\d+)\.safetensors$/;

/** The running totals of the epoch a checkpoint was saved in (sums over its batches so far). */
export interface EpochSums {
  epoch: number;
  batches: number;
  /** Sum of batch loss x batch size. */
  loss: number;
  /** Correct top-1 / top-5 predictions (NaN when the task is not a classification). */
  top1: number;
  top5: number;
  examples: number;
  seconds: number;
}

export interface CheckpointInfo {
  file: string;
  step: number;
  epoch: number;
  /** The run settings recorded at save time (JSON). */
  run: Record<string, unknown>;
  /** float16 runs: the loss scaler's state. */
  scaler?: { scale: number; goodSteps: number };
  /** The totals of the epoch the checkpoint was saved in (absent in files from older versions). */
  epochSums?: EpochSums;
}

/** Writes a checkpoint and removes all but the newest `keep`. Takes ownership of the tensors. */
export function saveCheckpoint(
  dir: string,
  step: number,
  epoch: number,
  tensors: Record<string, Tensor>,
  run: Record<string, unknown>,
  keep: number,
  epochSums?: EpochSums,
): string {
  try {
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `checkpoint-${String(step).padStart(9, '0')}.safetensors`);
    const metadata: Record<string, string> = { format: CHECKPOINT_FORMAT, step: String(step), epoch: String(epoch), run: JSON.stringify(run) };
    if (epochSums) metadata.epoch_sums = JSON.stringify(epochSums);
    writeSafetensors(file, tensors, metadata);
    const all = listCheckpoints(dir);
    for (const old of all.slice(0, Math.max(0, all.length - keep))) fs.rmSync(old.file, { force: true });
    return file;
  } finally {
    dispose(tensors);
  }
}

/** Checkpoints in a folder, oldest first (temporary files of interrupted saves are ignored). */
export function listCheckpoints(dir: string): { file: string; step: number }[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .map((f) => ({ f, m: NAME.exec(f) }))
    .filter((x) => x.m)
    .map(({ f, m }) => ({ file: path.join(dir, f), step: Number(m![1]) }))
    .sort((a, b) => a.step - b.step);
}

/**
 * What a checkpoint's metadata says (format, step, epoch, run settings, epoch totals), checked;
 * a TorchError naming `op` when it is not a skipnorm checkpoint's.
 */
function checkpointInfo(file: string, metadata: Record<string, string>, op: string): CheckpointInfo {
  if (metadata.format !== CHECKPOINT_FORMAT) throw new TorchError(op, `${file} is not a skipnorm checkpoint (format ${JSON.stringify(metadata.format)})`);
  const info: CheckpointInfo = { file, step: Number(metadata.step), epoch: Number(metadata.epoch), run: {} };
  try {
    info.run = JSON.parse(metadata.run ?? '{}') as Record<string, unknown>;
    if (metadata.epoch_sums !== undefined) info.epochSums = JSON.parse(metadata.epoch_sums) as EpochSums;
  } catch (e) {
    throw new TorchError(op, `${file}: its metadata is not valid JSON (${(e as Error).message})`);
  }
  if (!Number.isSafeInteger(info.step) || info.step < 0 || !Number.isSafeInteger(info.epoch) || info.epoch < 0) throw new TorchError(op, `${file}: its step or epoch is not a count`);
  return info;
}

/** Why a checkpoint file cannot be resumed from (truncated, corrupt, not a checkpoint), or null when it is whole. */
export function checkpointProblem(file: string): string | null {
  try {
    checkpointInfo(file, readSafetensorsMetadata(file), 'checkpointProblem');
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

/** The newest whole checkpoint of a folder (a truncated or corrupt newer file is passed over), or null. */
export function latestCheckpoint(dir: string): string | null {
  return resumableCheckpoint(dir).latest?.file ?? null;
}

/**
 * The newest whole checkpoint of a folder (what its header says), and the newer files passed over
 * (with why).
 */
function resumableCheckpoint(dir: string): { latest: CheckpointInfo | null; broken: { file: string; problem: string }[] } {
  const broken: { file: string; problem: string }[] = [];
  for (const { file } of listCheckpoints(dir).reverse()) {
    try {
      return { latest: checkpointInfo(file, readSafetensorsMetadata(file), 'loadCheckpoint'), broken };
    } catch (e) {
      broken.push({ file, problem: (e as Error).message });
    }
  }
  return { latest: null, broken };
}

/**
 * @internal Gets a checkpoint folder ready for a run and returns the checkpoint to resume from
 * (what its header says, its run settings among it), or null. The process that writes the checkpoints (`writer`) creates the folder, checks it can
 * write there, removes the temporary files of saves that a killed process left behind and, when
 * resuming, the checkpoints newer than the one resumed from that cannot be read (they would
 * otherwise count as the newest).
 */
export function prepareCheckpointDir(dir: string, resume: boolean, writer: boolean, warn: (message: string) => void): CheckpointInfo | null {
  if (writer) {
    try {
      fs.mkdirSync(dir, { recursive: true });
      fs.accessSync(dir, fs.constants.W_OK);
    } catch (e) {
      throw new TorchError('fit', `cannot write checkpoints to ${dir}: ${(e as Error).message}`);
    }
    removeStaleTemporaries(dir);
  }
  if (!resume) return null;
  const { latest, broken } = resumableCheckpoint(dir);
  for (const b of broken) {
    warn(`skipping ${b.file}, which cannot be read (${b.problem}); resuming from ${latest?.file ?? 'the start'}`);
    if (writer) fs.rmSync(b.file, { force: true });
  }
  return latest;
}

/**
 * Restores model, optimiser and generator from a checkpoint file; returns where the run was.
 * Strict: the model's and optimiser's names and shapes must match, and the optimiser's state must
 * be of its kind and options. Everything is checked before anything is loaded, so a failed load
 * leaves the model, the optimiser and the generator as they were.
 */
export function loadCheckpoint(file: string, model: Module, optimizer: Optimizer): CheckpointInfo {
  const op = 'loadCheckpoint';
  const { tensors, metadata } = readSafetensors(file);
  try {
    const info = checkpointInfo(file, metadata, op);
    const part = (prefix: string) =>
      Object.fromEntries(Object.entries(tensors).filter(([k]) => k.startsWith(prefix)).map(([k, t]) => [k.slice(prefix.length), t]));
    const rng = tensors['rng.cpu'];
    if (rng) {
      const current = wrap(native().rngState());
      const fits = rng.dtype === 'uint8' && rng.shape.length === 1 && rng.shape[0] === current.shape[0];
      current.dispose();
      if (!fits) throw new TorchError(op, `${file}: rng.cpu is not a CPU generator state`);
    }
    const scale = tensors['scaler.scale'];
    const good = tensors['scaler.good_steps'];
    if ((scale === undefined) !== (good === undefined) || (scale && (scale.numel !== 1 || good.numel !== 1))) throw new TorchError(op, `${file}: the loss scaler's state is incomplete`);
    if (scale) info.scaler = { scale: scale.item(), goodSteps: good.item() };
    const optimizerState = part('optimizer.');
    optimizer.checkStateDict(optimizerState);
    model.loadStateDict(part('model.')); // checks every key and shape before it copies
    optimizer.loadStateDict(optimizerState); // checked above
    if (rng) native().setRngState(rng.handleFor(op));
    return info;
  } finally {
    dispose(tensors);
  }
}
