/** Devices: `cpu`, `cuda` (the current CUDA device) or `cuda:N`. */
export type Device = 'cpu' | 'cuda' | `cuda:${number}`;

const DEVICE_PATTERN = /^(cpu|cuda)(:\d+)?$/;

export function isDevice(value: unknown): value is Device {
  return typeof value === 'string' && DEVICE_PATTERN.test(value);
}

export function checkDevice(value: unknown, op: string): Device {
  if (!isDevice(value)) {
    throw new TypeError(`${op}: invalid device ${JSON.stringify(value)}; expected 'cpu', 'cuda' or 'cuda:N'`);
  }
  return value;
}
