/**
 * Progress output for long commands: a redrawn bar on a terminal, plain lines otherwise (logs,
 * pipes, CI), never more often than a few times a second.
 */
export interface ProgressLine {
  done: number;
  total: number;
  /** Shown after the bar, e.g. "loss 0.123  lr 0.1". */
  text: string;
  eta?: number;
}

/** 42s, 3m05s, 1h02m. */
export function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  return s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m` : s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

export class Progress {
  private last = 0;
  private readonly tty: boolean;
  // A terminal line redrawn in place is waiting for its newline.
  private open = false;

  constructor(private readonly stream: NodeJS.WriteStream = process.stderr, private readonly plainEveryMs = 2000) {
    this.tty = Boolean(stream.isTTY);
  }

  update(p: ProgressLine, force = false): void {
    const now = Date.now();
    const final = p.done >= p.total;
    if (!force && !final && now - this.last < (this.tty ? 100 : this.plainEveryMs)) return;
    this.last = now;
    const eta = p.eta === undefined ? '' : `  eta ${duration(p.eta)}`;
    if (this.tty) {
      const width = 28;
      const filled = Math.round((width * p.done) / Math.max(1, p.total));
      this.stream.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${p.done}/${p.total}  ${p.text}${eta}\x1b[K${final ? '\n' : ''}`);
      this.open = !final;
    } else {
      this.stream.write(`${p.done}/${p.total}  ${p.text}${eta}\n`);
    }
  }

  /** A line without a count (a phase and the time it has taken), throttled as update's. */
  status(text: string, force = false): void {
    const now = Date.now();
    if (!force && now - this.last < (this.tty ? 100 : this.plainEveryMs)) return;
    this.last = now;
    this.stream.write(this.tty ? `\r${text}\x1b[K` : `${text}\n`);
    this.open = this.tty;
  }

  /** Ends a line left open on a terminal, so that what follows starts on its own line. */
  end(): void {
    if (this.open) this.stream.write('\n');
    this.open = false;
  }
}

