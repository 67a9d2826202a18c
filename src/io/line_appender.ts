/**
 * Appends lines to a file off the event loop: lines pushed while a write is in flight wait in
 * one buffer and go out together in the next write, so at most one write is pending and the
 * buffer holds only what arrived during it. `flush()` resolves once everything pushed is written
 * and rejects with the first write error.
 */
import * as fs from 'node:fs';

export class LineAppender {
  private buffer: string[] = [];
  private writing: Promise<void> | null = null;
  private error: unknown = undefined;

  constructor(readonly file: string) {}

  push(line: string): void {
    this.buffer.push(line);
    if (!this.writing) this.writing = this.drain();
  }

  async flush(): Promise<void> {
    while (this.writing) await this.writing;
    if (this.error !== undefined) throw this.error;
  }

  private async drain(): Promise<void> {
    while (this.buffer.length > 0 && this.error === undefined) {
      const text = `${this.buffer.join('\n')}\n`;
      this.buffer = [];
      try {
        await fs.promises.appendFile(this.file, text);
      } catch (e) {
        this.error = e;
      }
    }
    this.writing = null;
  }
}
