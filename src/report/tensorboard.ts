/**
 * TensorBoard event files, written without TensorFlow: TFRecord framing (length, masked CRC-32C of
 * the length, the serialized Event, masked CRC-32C of the data) around Event protocol buffers
 * (wall_time, step, file_version, summary { value { tag, simple_value | histo } }), encoded here
 * by hand since only these few fields are needed. TensorBoard's own reader reads them (tested
 * with the Python tensorboard package).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TorchError } from '../core/errors';
import { FileAppender } from '../io/line_appender';

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1; // Castagnoli, reflected
    table[i] = c >>> 0;
  }
  return table;
})();

function crc32c(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function maskedCrc(bytes: Uint8Array): number {
  const c = crc32c(bytes);
  return ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

/** A minimal protocol-buffer writer: varints, fixed64/32 and length-delimited fields. */
class Proto {
  private parts: Buffer[] = [];

  private varint(value: number | bigint): void {
    let v = BigInt(value);
    if (v < 0n) v += 1n << 64n; // two's complement, as protobuf encodes negative int64
    const bytes: number[] = [];
    do {
      let byte = Number(v & 0x7fn);
      v >>= 7n;
      if (v > 0n) byte |= 0x80;
      bytes.push(byte);
    } while (v > 0n);
    this.parts.push(Buffer.from(bytes));
  }
  private key(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }
  int(field: number, value: number): this {
    this.key(field, 0);
    this.varint(Math.trunc(value));
    return this;
  }
  double(field: number, value: number): this {
    this.key(field, 1);
    const b = Buffer.alloc(8);
    b.writeDoubleLE(value);
    this.parts.push(b);
    return this;
  }
  float(field: number, value: number): this {
    this.key(field, 5);
    const b = Buffer.alloc(4);
    b.writeFloatLE(value);
    this.parts.push(b);
    return this;
  }
  bytes(field: number, value: Buffer | string): this {
    const b = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
    this.key(field, 2);
    this.varint(b.length);
    this.parts.push(b);
    return this;
  }
  packedDoubles(field: number, values: ArrayLike<number>): this {
    const b = Buffer.alloc(8 * values.length);
    for (let i = 0; i < values.length; i++) b.writeDoubleLE(values[i], 8 * i);
    return this.bytes(field, b);
  }
  done(): Buffer {
    return Buffer.concat(this.parts);
  }
}

export interface Histogram {
  /** Upper edges of the buckets, increasing. */
  limits: number[];
  /** Counts per bucket (values in (limits[i-1], limits[i]]). */
  counts: number[];
  min: number;
  max: number;
  num: number;
  sum: number;
  sumSquares: number;
}

/** A histogram of values over `bins` equal buckets on [lo, hi] (values outside are clamped in). */
export function histogramOf(values: ArrayLike<number>, lo: number, hi: number, bins: number): Histogram {
  const counts = new Array<number>(bins).fill(0);
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  let sumSquares = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    const b = Math.min(bins - 1, Math.max(0, Math.floor(((v - lo) / (hi - lo)) * bins)));
    counts[b]++;
    min = Math.min(min, v);
    max = Math.max(max, v);
    sum += v;
    sumSquares += v * v;
  }
  const limits = counts.map((_, i) => lo + ((i + 1) * (hi - lo)) / bins);
  return { limits, counts, min, max, num: values.length, sum, sumSquares };
}

/**
 * One TensorBoard event file in `dir`. Records are appended off the event loop (io/line_appender);
 * `flush()` or `close()` resolves once all are on disk, or rejects with the first write error.
 */
export class EventWriter {
  readonly file: string;
  private out: FileAppender | null;

  /** Creates `dir` and a new event file in it (TensorBoard reads every file of a folder). */
  constructor(dir: string) {
    fs.mkdirSync(dir, { recursive: true });
    this.file = path.join(dir, `events.out.tfevents.${Math.floor(Date.now() / 1000)}.${os.hostname()}.${process.pid}.${Math.floor(Math.random() * 1e9)}`);
    // Created now, so that a folder that cannot be written fails here, before any work.
    fs.closeSync(fs.openSync(this.file, 'a'));
    this.out = new FileAppender(this.file);
    this.write(new Proto().double(1, Date.now() / 1000).bytes(3, 'brain.Event:2').done());
  }

  private write(event: Buffer): void {
    if (!this.out) throw new Error('EventWriter: the writer is closed');
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(BigInt(event.length));
    const crcs = Buffer.alloc(8);
    crcs.writeUInt32LE(maskedCrc(length), 0);
    crcs.writeUInt32LE(maskedCrc(event), 4);
    this.out.append(Buffer.concat([length, crcs.subarray(0, 4), event, crcs.subarray(4)]));
  }

  private summary(step: number, value: Buffer): void {
    const summary = new Proto().bytes(1, value).done();
    this.write(new Proto().double(1, Date.now() / 1000).int(2, step).bytes(5, summary).done());
  }

  scalar(tag: string, step: number, value: number): void {
    this.summary(step, new Proto().bytes(1, tag).float(2, value).done());
  }

  histogram(tag: string, step: number, h: Histogram): void {
    const histo = new Proto()
      .double(1, h.min)
      .double(2, h.max)
      .double(3, h.num)
      .double(4, h.sum)
      .double(5, h.sumSquares)
      .packedDoubles(6, h.limits)
      .packedDoubles(7, h.counts)
      .done();
    this.summary(step, new Proto().bytes(1, tag).bytes(5, histo).done());
  }

  /** Resolves once every record so far is written; a failed write rejects (a TorchError naming the file). */
  async flush(): Promise<void> {
    await written(this.out, this.file, 'EventWriter.flush');
  }

  /** Writes what is pending and closes the writer (later records throw). */
  async close(): Promise<void> {
    const out = this.out;
    this.out = null;
    await written(out, this.file, 'EventWriter.close');
  }
}

async function written(out: FileAppender | null, file: string, op: string): Promise<void> {
  try {
    await out?.flush();
  } catch (e) {
    throw new TorchError(op, `cannot write ${file}: ${(e as Error).message}`);
  }
}
