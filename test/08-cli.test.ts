/** The `skipnorm` command as a user runs it. */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '..');
const cli = (...args: string[]) => spawnSync(process.execPath, [path.join(root, 'lib', 'cli', 'main.js'), ...args], { cwd: root, encoding: 'utf8' });

describe('skipnorm CLI', () => {
  it('info --json prints versions, CUDA and devices', () => {
    const r = cli('info', '--json');
    expect(r.status).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(info.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(info.libtorch).toMatch(/^2\.\d+\.\d+/);
    expect(typeof info.cuda).toBe('boolean');
    expect(info.devices).toContain('cpu');
  });

  it('npx skipnorm info --json works from the package folder', () => {
    const r = spawnSync('npx', ['skipnorm', 'info', '--json'], { cwd: root, encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).libtorch).toMatch(/^2\./);
  });

  it('info prints a readable summary', () => {
    const r = cli('info');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/LibTorch\s+2\./);
    expect(r.stdout).toMatch(/devices\s+cpu/);
  });

  it('demo runs tensors, autograd and a worker job, and frees everything', () => {
    const r = cli('demo');
    expect(r.status).toBe(0);
    const smin = Number(/I \+ A\s+: min ([\d.]+)/.exec(r.stdout)![1]);
    const amin = Number(/of A\s+: min ([\d.]+)/.exec(r.stdout)![1]);
    expect(smin).toBeGreaterThan(0.2); // the identity keeps the spectrum away from zero
    expect(amin).toBeLessThan(0.05);
    expect(Number(/gradient error\s+: ([\d.e+-]+)/.exec(r.stdout)![1])).toBeLessThan(1e-4);
    expect(r.stdout).toMatch(/power iteration\s+50: sigma/);
    expect(r.stdout).toMatch(/live tensors after scope\s+: 0/);
  });

  it('rejects an unknown command with usage and exit code 2', () => {
    const r = cli('frobnicate');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/unknown command 'frobnicate'/);
    expect(r.stderr).toMatch(/Usage: skipnorm/);
  });

  it('rejects an unknown option clearly', () => {
    const r = cli('info', '--jsn');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/Unknown option '--jsn'/);
  });
});
