/**
 * Errors skipnorm raises. Native code throws these classes too (registered at load), so every
 * failure inside LibTorch reaches JavaScript as a TorchError naming the operation, with
 * LibTorch's message and without its C++ backtrace.
 */

/** A LibTorch operation failed, or a tensor was used after dispose. */
export class TorchError extends Error {
  /** The operation that failed, e.g. `matmul`. */
  readonly op: string;
  /** LibTorch's own message (or skipnorm's), without the operation prefix. */
  readonly detail: string;

  constructor(op: string, detail: string) {
    super(`${op}: ${detail}`);
    this.name = 'TorchError';
    this.op = op;
    this.detail = detail;
  }
}

/** A job was cancelled through its AbortSignal. */
export class AbortError extends Error {
  readonly op: string;
  readonly code = 'ABORT_ERR';

  constructor(op: string) {
    super(`${op}: aborted`);
    this.name = 'AbortError';
    this.op = op;
  }
}

/** The native addon could not be loaded; the message lists the fixes. */
export class LoadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LoadError';
  }
}
