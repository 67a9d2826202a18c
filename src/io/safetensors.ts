/**
 * Safetensors files (the format of Hugging Face's `safetensors`, read by PyTorch users with
 * `safetensors.torch.load_file`): an 8-byte little-endian header length, a JSON header mapping
 * names to { dtype, shape, data_offsets }, then the raw little-endian bytes. Loading never runs
 * code: the header is parsed and validated strictly, natively (native/io/safetensors.cc), before
 * any tensor is made, and the bytes are read straight into the tensors. Writes are atomic (a
 * temporary file in the same folder, flushed, renamed over the target, the folder flushed), so a
 * failed save never leaves a half-written file or destroys the previous one.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TorchError } from '../core/errors';
import { native } from '../core/native';
import type { DType } from '../tensor/dtype';
import { Tensor, wrap } from '../tensor/tensor';

const FORMAT_DTYPES: Record<string, DType> = {
  F64: 'float64',
  F32: 'float32',
  F16: 'float16',
  BF16: 'bfloat16',
  I64: 'int64',
  I32: 'int32',
  I16: 'int16',
  I8: 'int8',
  U8: 'uint8',
  BOOL: 'bool',
};
const DTYPE_FORMATS: Partial<Record<DType, string>> = Object.fromEntries(Object.entries(FORMAT_DTYPES).map(([f, d]) => [d, f]));

/** Bytes per write call: Linux moves at most about 2 GiB per call. */
const IO_CHUNK = 1 << 30;

/** Sets a key as an own property, even '__proto__'. */
function setOwn<T>(object: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Largest header accepted (safetensors' own limit is 100 MB). */
export const MAX_HEADER_BYTES = 100_000_000;

export class SafetensorsError extends TorchError {
  constructor(file: string, detail: string) {
    super('safetensors', `${file}: ${detail}`);
    this.name = 'SafetensorsError';
  }
}

export interface SafetensorsFile {
  tensors: Record<string, Tensor>;
  /** The header's optional `__metadata__` (string to string). */
  metadata: Record<string, string>;
}

interface NativeRead {
  error?: string;
  metadata: [string, string][];
  names: string[];
  tensors: number[];
}

// The header (and, unless headerOnly, the tensors) of a file, parsed and validated natively
// (native/io/safetensors.cc); a format problem is a SafetensorsError naming the file.
function read(file: string, maxHeaderBytes: number, headerOnly: boolean): { names: string[]; handles: number[]; metadata: Record<string, string> } {
  const r = native().readSafetensors(file, maxHeaderBytes, headerOnly) as NativeRead;
  if (r.error !== undefined) throw new SafetensorsError(file, r.error);
  const metadata: Record<string, string> = {};
  for (const [k, v] of r.metadata) setOwn(metadata, k, v);
  return { names: r.names, handles: r.tensors, metadata };
}

function checkOptions(file: unknown, options: { maxHeaderBytes?: number }, op: string): number {
  if (typeof file !== 'string') throw new TypeError(`${op}: file must be a path`);
  const max = options.maxHeaderBytes ?? MAX_HEADER_BYTES;
  if (!Number.isSafeInteger(max) || max < 0) throw new TypeError(`${op}: maxHeaderBytes must be a non-negative integer`);
  return max;
}

/** The `__metadata__` of a safetensors file, reading and validating its header only. */
export function readSafetensorsMetadata(file: string, options: { maxHeaderBytes?: number } = {}): Record<string, string> {
  return read(file, checkOptions(file, options, 'readSafetensorsMetadata'), true).metadata;
}

/**
 * Reads every tensor of a safetensors file (onto the CPU). The header is validated strictly before
 * any tensor is made, and each tensor's bytes go straight into its storage.
 */
export function readSafetensors(file: string, options: { maxHeaderBytes?: number } = {}): SafetensorsFile {
  const { names, handles, metadata } = read(file, checkOptions(file, options, 'readSafetensors'), false);
  const tensors: Record<string, Tensor> = {};
  names.forEach((name, i) => setOwn(tensors, name, wrap(handles[i])));
  return { tensors, metadata };
}

/**
 * Writes tensors (copied to the CPU when elsewhere) and optional string metadata to a safetensors
 * file, atomically: the file is whole or absent, even after a crash (native/io/safetensors_write.cc).
 */
export function writeSafetensors(file: string, tensors: Record<string, Tensor>, metadata: Record<string, string> = {}): void {
  const op = 'writeSafetensors';
  if (typeof file !== 'string') throw new TypeError(`${op}: file must be a path`);
  if (tensors === null || typeof tensors !== 'object') throw new TypeError(`${op}: tensors must be an object of tensors`);
  for (const [k, v] of Object.entries(metadata)) if (typeof v !== 'string') throw new TypeError(`${op}: metadata '${k}' must be a string`);
  const names = Object.keys(tensors);
  for (const name of names) {
    const t = tensors[name];
    if (!(t instanceof Tensor)) throw new TypeError(`${op}: '${name}' is not a Tensor`);
    if (name === '__metadata__') throw new TypeError(`${op}: '__metadata__' is reserved`);
    if (!DTYPE_FORMATS[t.dtype]) throw new TypeError(`${op}: '${name}' has dtype ${t.dtype}, which safetensors cannot store`);
  }
  native().writeSafetensors(file, names, names.map((name) => tensors[name].handleFor(op)), Object.entries(metadata));
}

/** The temporary sibling a write of `file` goes through: `.<name>.<pid>.<random>.tmp`. */
export function temporaryPath(file: string): string {
  // Unique per call (worker threads share the pid); only a file this call created is removed.
  return path.join(path.dirname(path.resolve(file)), `.${path.basename(file)}.${process.pid}.${crypto.randomBytes(6).toString('hex')}.tmp`);
}

const TEMPORARY = /^\..+\.(\d+)\.[0-9a-f]{12}\.tmp$/;

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the temporary files that writes into `dir` left behind when their process was killed
 * (those of live processes, this one included, are left alone). Returns how many it removed.
 */
export function removeStaleTemporaries(dir: string): number {
  let removed = 0;
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return 0;
  }
  for (const name of names) {
    const m = TEMPORARY.exec(name);
    if (!m || Number(m[1]) === process.pid || processAlive(Number(m[1]))) continue;
    fs.rmSync(path.join(dir, name), { force: true });
    removed++;
  }
  return removed;
}

/** Makes a rename in `dir` durable (the folder's entry is on disk, not only the file's data). */
export function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // some file systems cannot sync a folder; the rename itself is still atomic
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/**
 * Writes a file through a temporary sibling and a rename, so the target is never half-written;
 * the data and then the folder are flushed to disk, so after a crash the file is whole or absent.
 */
export function writeAtomically(file: string, chunks: Uint8Array[]): void {
  const temp = temporaryPath(file);
  let fd: number | undefined;
  let created = false;
  try {
    fd = fs.openSync(temp, 'wx');
    created = true;
    for (const chunk of chunks) {
      let written = 0;
      while (written < chunk.length) written += fs.writeSync(fd, chunk, written, Math.min(IO_CHUNK, chunk.length - written));
    }
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(temp, file);
  } catch (e) {
    if (fd !== undefined) fs.closeSync(fd);
    if (created) fs.rmSync(temp, { force: true });
    throw new TorchError('write', `cannot write ${file}: ${(e as Error).message}`);
  }
  syncDirectory(path.dirname(path.resolve(file)));
}

/**
 * Checks, before long work starts, that `file` can be written when it ends: its folder exists and
 * is writable, and the path is not a folder. Throws a TorchError naming `op` otherwise.
 */
export function checkWritable(file: string, op: string): void {
  if (typeof file !== 'string' || file === '') throw new TypeError(`${op}: the output path must be a non-empty string`);
  const dir = path.dirname(path.resolve(file));
  let problem: string | null = null;
  try {
    if (!fs.statSync(dir).isDirectory()) problem = `${dir} is not a folder`;
    else fs.accessSync(dir, fs.constants.W_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    problem = code === 'ENOENT' ? `the folder ${dir} does not exist` : code === 'EACCES' ? `the folder ${dir} is not writable` : (e as Error).message;
  }
  if (problem === null && fs.existsSync(file) && fs.statSync(file).isDirectory()) problem = `${file} is a folder`;
  if (problem !== null) throw new TorchError(op, `cannot write ${file}: ${problem}`);
}
