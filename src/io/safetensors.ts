/**
 * Safetensors files (the format of Hugging Face's `safetensors`, read by PyTorch users with
 * `safetensors.torch.load_file`): an 8-byte little-endian header length, a JSON header mapping
 * names to { dtype, shape, data_offsets }, then the raw little-endian bytes. Loading never runs
 * code. The header is validated strictly before any tensor is made; writes are atomic (a
 * temporary file in the same folder, flushed, then renamed over the target), so a failed save
 * never leaves a half-written file or destroys the previous one.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TorchError } from '../core/errors';
import { native } from '../core/native';
import { DTYPE_CODES, type DType } from '../tensor/dtype';
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
const ITEM_SIZE: Partial<Record<DType, number>> = { float64: 8, float32: 4, float16: 2, bfloat16: 2, int64: 8, int32: 4, int16: 2, int8: 1, uint8: 1, bool: 1 };

/** Bytes per read or write call: Linux moves at most about 2 GiB per call. */
const IO_CHUNK = 1 << 30;

/** Sets a key as an own property, even '__proto__'. */
function setOwn<T>(object: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
}

function readFully(fd: number, target: Uint8Array, position: number, file: string): void {
  let done = 0;
  while (done < target.length) {
    const n = fs.readSync(fd, target, done, Math.min(IO_CHUNK, target.length - done), position + done);
    if (n === 0) throw new SafetensorsError(file, `the file ended after ${position + done} bytes (truncated while reading?)`);
    done += n;
  }
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

interface Entry {
  name: string;
  dtype: DType;
  shape: number[];
  begin: number;
  end: number;
}

function parseHeader(file: string, header: Buffer, dataBytes: number): { entries: Entry[]; metadata: Record<string, string> } {
  const fail = (detail: string): never => {
    throw new SafetensorsError(file, detail);
  };
  let json: unknown;
  try {
    json = JSON.parse(header.toString('utf8'));
  } catch (e) {
    fail(`the header is not valid JSON (${(e as Error).message})`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) fail('the header is not a JSON object');
  const metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const [name, value] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) fail('__metadata__ must be an object of strings');
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`__metadata__.${k} must be a string`);
        setOwn(metadata, k, v as string);
      }
      continue;
    }
    const e = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (e === null || typeof e !== 'object') fail(`entry '${name}' is not an object`);
    const dtype = FORMAT_DTYPES[e.dtype as string];
    if (!dtype) fail(`entry '${name}' has an unsupported dtype ${JSON.stringify(e.dtype)}`);
    const shape = e.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) fail(`entry '${name}' has an invalid shape ${JSON.stringify(shape)}`);
    const offsets = e.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      fail(`entry '${name}' has invalid data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    if (begin > end || end > dataBytes) fail(`entry '${name}' has data_offsets [${begin}, ${end}] outside the ${dataBytes} bytes of data`);
    const numel = (shape as number[]).reduce((a, b) => a * b, 1);
    if (numel * ITEM_SIZE[dtype]! !== end - begin) {
      fail(`entry '${name}': ${dtype} of shape [${(shape as number[]).join(', ')}] needs ${numel * ITEM_SIZE[dtype]!} bytes, but data_offsets give ${end - begin}`);
    }
    entries.push({ name, dtype, shape: shape as number[], begin, end });
  }
  // The data must be covered exactly, without overlaps or holes, as safetensors requires.
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let position = 0;
  for (const e of sorted) {
    if (e.begin !== position) fail(e.begin < position ? `entry '${e.name}' overlaps another tensor` : `there is a hole in the data before entry '${e.name}'`);
    position = e.end;
  }
  if (position !== dataBytes) fail(`the data holds ${dataBytes} bytes but the tensors cover ${position}`);
  return { entries, metadata };
}

/** The `__metadata__` of a safetensors file, reading and validating its header only. */
export function readSafetensorsMetadata(file: string, options: { maxHeaderBytes?: number } = {}): Record<string, string> {
  return withHeader(file, options.maxHeaderBytes ?? MAX_HEADER_BYTES, (_fd, _entries, metadata) => metadata);
}

/** Opens a file, validates its header, and runs `use` with what it found (the file stays open meanwhile). */
function withHeader<T>(file: string, maxHeader: number, use: (fd: number, entries: Entry[], metadata: Record<string, string>, dataStart: number) => T): T {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (e) {
    throw new SafetensorsError(file, `cannot open: ${(e as Error).message}`);
  }
  try {
    const size = fs.fstatSync(fd).size;
    if (size < 8) throw new SafetensorsError(file, `the file has ${size} bytes: too short for a safetensors header`);
    const lengthBytes = Buffer.alloc(8);
    readFully(fd, lengthBytes, 0, file);
    const headerLength = lengthBytes.readBigUInt64LE(0);
    if (headerLength > BigInt(maxHeader)) throw new SafetensorsError(file, `the header claims ${headerLength} bytes, more than the ${maxHeader}-byte limit`);
    if (Number(headerLength) + 8 > size) throw new SafetensorsError(file, `the header claims ${headerLength} bytes but the file has only ${size} (truncated?)`);
    const header = Buffer.alloc(Number(headerLength));
    readFully(fd, header, 8, file);
    const dataStart = 8 + header.length;
    const { entries, metadata } = parseHeader(file, header, size - dataStart);
    return use(fd, entries, metadata, dataStart);
  } finally {
    fs.closeSync(fd);
  }
}

/** Reads every tensor of a safetensors file (onto the CPU). */
export function readSafetensors(file: string, options: { maxHeaderBytes?: number } = {}): SafetensorsFile {
  if (typeof file !== 'string') throw new TypeError('readSafetensors: file must be a path');
  return withHeader(file, options.maxHeaderBytes ?? MAX_HEADER_BYTES, (fd, entries, metadata, dataStart) => {
    const tensors: Record<string, Tensor> = {};
    try {
      for (const e of entries) {
        const bytes = new Uint8Array(e.end - e.begin);
        readFully(fd, bytes, dataStart + e.begin, file);
        setOwn(tensors, e.name, wrap(native().fromBytes(bytes, e.shape, DTYPE_CODES[e.dtype])));
      }
    } catch (e) {
      for (const t of Object.values(tensors)) t.dispose();
      throw e;
    }
    return { tensors, metadata };
  });
}

/**
 * Writes tensors (moved to the CPU, made contiguous) and optional string metadata to a
 * safetensors file, atomically.
 */
export function writeSafetensors(file: string, tensors: Record<string, Tensor>, metadata: Record<string, string> = {}): void {
  const op = 'writeSafetensors';
  if (typeof file !== 'string') throw new TypeError(`${op}: file must be a path`);
  if (tensors === null || typeof tensors !== 'object') throw new TypeError(`${op}: tensors must be an object of tensors`);
  for (const [k, v] of Object.entries(metadata)) if (typeof v !== 'string') throw new TypeError(`${op}: metadata '${k}' must be a string`);
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = Object.keys(metadata).length ? { __metadata__: metadata } : {};
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const name of names) {
    const t = tensors[name];
    if (!(t instanceof Tensor)) throw new TypeError(`${op}: '${name}' is not a Tensor`);
    if (name === '__metadata__') throw new TypeError(`${op}: '__metadata__' is reserved`);
    const dtype = DTYPE_FORMATS[t.dtype];
    if (!dtype) throw new TypeError(`${op}: '${name}' has dtype ${t.dtype}, which safetensors cannot store`);
    const bytes = native().toBytes(t.handleFor(op)) as Uint8Array;
    setOwn(header, name, { dtype, shape: t.shape, data_offsets: [offset, offset + bytes.length] });
    chunks.push(bytes);
    offset += bytes.length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8); // align the data to 8 bytes
  const headerBytes = Buffer.from(json, 'utf8');
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(headerBytes.length));
  writeAtomically(file, [length, headerBytes, ...chunks]);
}

/** Writes a file through a temporary sibling and a rename, so the target is never half-written. */
export function writeAtomically(file: string, chunks: Uint8Array[]): void {
  const dir = path.dirname(path.resolve(file));
  // Unique per call (worker threads share the pid); only a file this call created is removed.
  const temp = path.join(dir, `.${path.basename(file)}.${process.pid}.${crypto.randomBytes(6).toString('hex')}.tmp`);
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
}
