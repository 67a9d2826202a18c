/**
 * The JavaScript side of native jobs (native/core/jobs.h): a job runs on a skipnorm worker
 * thread, its progress arrives here as plain objects, and an AbortSignal cancels it (the promise
 * then rejects with an AbortError within one step of the job).
 */
import { AbortError } from './errors';
import { dispose } from './memory';
import { native } from './native';

export interface JobOptions<P> {
  /** Called on the JavaScript thread with each progress report. */
  onProgress?: (progress: P) => void;
  /** @internal Called instead of onProgress for reports that arrive after a callback failed. */
  onDropped?: (progress: P) => void;
  /** Cancels the job. */
  signal?: AbortSignal;
}

/**
 * Starts a native job. `start` receives the progress callback to pass to the native entry
 * point and returns its [promise, jobId] pair. Misuse rejects; nothing is thrown synchronously.
 */
export async function runJob<T, P>(op: string, start: (onProgress: ((p: P) => void) | undefined) => [Promise<T>, number], options: JobOptions<P> = {}): Promise<T> {
  const { signal, onProgress, onDropped } = options;
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw new TypeError(`${op}: signal must be an AbortSignal`);
  if (onProgress !== undefined && typeof onProgress !== 'function') throw new TypeError(`${op}: onProgress must be a function`);
  if (signal?.aborted) throw new AbortError(op);
  let callbackError: unknown;
  let jobId = -1;
  // A throwing progress callback cancels the job, and its error rejects the promise.
  const progress = onProgress
    ? (p: P) => {
        if (callbackError !== undefined) {
          onDropped?.(p);
          return;
        }
        try {
          onProgress(p);
        } catch (e) {
          callbackError = e;
          native().cancelJob(jobId);
        }
      }
    : undefined;
  const [promise, id] = start(progress);
  jobId = id;
  const abort = () => native().cancelJob(id);
  signal?.addEventListener('abort', abort, { once: true });
  return promise.then(
    (value) => {
      signal?.removeEventListener('abort', abort);
      // The job may finish before the cancel that a throwing callback asked for takes effect.
      if (callbackError !== undefined) {
        dispose(value);
        throw callbackError;
      }
      return value;
    },
    (error) => {
      signal?.removeEventListener('abort', abort);
      throw callbackError ?? error;
    },
  );
}
