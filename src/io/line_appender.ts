/**
 * Appends to a file off the event loop: chunks pushed while a write is in flight wait in one
 * buffer and go out together in the next write, so at most one write is pending and the buffer
 * holds only what arrived during it. `flush()` resolves once everything pushed is written and
 * rejects with the first write error. LineAppender ends each pushed string with a newline;
 * FileAppender appends bytes as given (TensorBoard's records).
 */
import * as fs from 'node:fs';

export class FileAppender {
  private buffer: Buffer[] = [];
  private writing: Promise<void> | null = null;
  private error: unknown = undefined;

  constructor(readonly file: string) {}

  append(chunk: Buffer | string): void {
    this.buffer.push(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk);
    if (!this.writing) this.writing = this.drain();
  }

  async flush(): Promise<void> {
    while (this.writing) await this.writing;
    if (this.error !== undefined) throw this.error;
  }

  private async drain(): Promise<void> {
    while (this.buffer.length > 0 && this.error === undefined) {
      const bytes = Buffer.concat(this.buffer);
      this.buffer = [];
      try {
        await fs.promises.appendFile(this.file, bytes);
      } catch (e) {
        this.error = e;
      }
    }
    this.writing = null;
  }
}

export class LineAppender extends FileAppender {
  push(line: string): void {
    this.append(`${line}\n`);
  }
}
