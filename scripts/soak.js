'use strict';
// Kill-and-resume soak: `npm run soak [-- --kills N]`. A 2-process data-parallel run (Gloo on
// loopback, synchronised batch norm) trains BNNet from a DataLoader with random crops and flips,
// checkpointing every step. It is killed with SIGKILL (both ranks at once, as a machine that loses
// power) N times (default 20), at random moments and, every other time, the moment a checkpoint
// save begins, and resumed each time, then left to finish. It must end bit-identical to the same
// run left alone, with no temporary file left in the checkpoint folder.
//
// node scripts/soak.js --kills N [--dir D]   the soak (prints a line per kill; exit 1 on failure)
// node scripts/soak.js --worker RANK PORT DIR OUT   one rank (what the soak starts)

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const EPOCHS = 4;
const EXAMPLES = 384;
const BATCH = 32; // global: 16 per rank

// The data: seeded uint8 digits-like images whose class is readable from their brightness.
function dataset(sn) {
  const g = new sn.Generator(7);
  const labels = sn.randint(0, 10, [EXAMPLES], { generator: g });
  const noise = sn.randint(0, 60, [EXAMPLES, 28, 28, 1], { generator: g });
  const images = noise.add(labels.reshape([EXAMPLES, 1, 1, 1]).mul(19)).clamp(0, 255).to('uint8');
  const ds = sn.data.fromTensors(images, labels, { classes: 10 });
  sn.dispose([labels, noise, images]);
  g.dispose();
  return ds;
}

async function worker(rank, port, dir, out) {
  const sn = require(root);
  sn.setNumThreads(1);
  await sn.distributed.init({ rank, worldSize: 2, masterPort: port, timeoutMs: 20000 });
  sn.manualSeed(3);
  const model = sn.models.bnnet({ variant: 'c' });
  const optimizer = new sn.optim.SGD(model, { lr: 0.05, momentum: 0.9 });
  const data = dataset(sn);
  const T = sn.data.transforms;
  const result = await sn.fit(model, data, {
    optimizer,
    epochs: EPOCHS,
    batchSize: BATCH,
    seed: 11,
    transforms: [T.randomCrop(28, { padding: 3 }), T.horizontalFlip()],
    loaderThreads: 2,
    distributed: { syncBatchNorm: true },
    checkpoint: dir ? { dir, every: 1, keep: 2 } : undefined,
    resume: dir !== '',
    onStep: (e) => rank === 0 && process.stdout.write(`step ${e.step}\n`),
  });
  if (rank === 0) sn.writeSafetensors(out, model.stateDict(), { steps: String(result.steps) });
  sn.distributed.destroy();
}

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = s.address().port;
      s.close(() => resolve(port));
    });
  });
}

// Starts both ranks; resolves when both have exited. kill: { afterMs } kills both with SIGKILL
// after that long; { inSave: true } kills them the moment a checkpoint's temporary file appears
// (a save in progress).
async function runBoth(dir, out, kill = {}) {
  const port = await freePort();
  let lastStep = 0;
  const children = [0, 1].map((rank) => {
    const child = spawn(process.execPath, [__filename, '--worker', String(rank), String(port), dir, out], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stdout.on('data', (d) => {
      const m = /step (\d+)\n$/.exec(String(d));
      if (m) lastStep = Number(m[1]);
    });
    child.stderr.on('data', (d) => (stderr += d));
    return { child, exit: new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, stderr }))) };
  });
  const killBoth = () => children.forEach((c) => c.child.kill('SIGKILL'));
  let timer;
  let watcher;
  if (kill.afterMs !== undefined) timer = setTimeout(killBoth, kill.afterMs);
  if (kill.inSave) {
    fs.mkdirSync(dir, { recursive: true });
    watcher = fs.watch(dir, (event, name) => {
      if (name && name.endsWith('.tmp') && fs.existsSync(path.join(dir, name))) killBoth();
    });
  }
  const exits = await Promise.all(children.map((c) => c.exit));
  clearTimeout(timer);
  watcher?.close();
  const interruptedSave = dir !== '' && fs.existsSync(dir) && fs.readdirSync(dir).some((f) => f.endsWith('.tmp'));
  return { exits, lastStep, interruptedSave };
}

const sameFile = (a, b) => fs.readFileSync(a).equals(fs.readFileSync(b));

/**
 * The soak: `kills` random kills, then a final run to the end. Returns a report; throws on failure.
 * onKill(i, step) is called after each kill with the step the run had reached.
 */
async function soak({ kills, dir, onKill = () => {} }) {
  const work = dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'skipnorm-soak-'));
  const checkpoints = path.join(work, 'checkpoints');
  const reference = path.join(work, 'reference.safetensors');
  const resumed = path.join(work, 'resumed.safetensors');
  const started = Date.now();
  const straight = await runBoth('', reference);
  for (const e of straight.exits) if (e.code !== 0) throw new Error(`the uninterrupted run failed: ${e.stderr}`);
  const runMs = Date.now() - started;
  // Kill moments spread over the whole run (startup, rendezvous, training), and every other one
  // in the middle of a save.
  let killed = 0;
  let midTraining = 0;
  let midSave = 0;
  let seed = 12345;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  while (killed < kills) {
    const inSave = killed % 2 === 1;
    const r = await runBoth(checkpoints, resumed, inSave ? { inSave } : { afterMs: Math.floor(200 + random() * runMs) });
    if (r.exits.every((e) => e.code === 0)) {
      // It finished before the kill: start the folder afresh so that later kills still interrupt it.
      fs.rmSync(checkpoints, { recursive: true, force: true });
      fs.rmSync(resumed, { force: true });
      continue;
    }
    // A rank may have finished (rank 1 has nothing to write at the end) when the kill came.
    for (const e of r.exits) if (e.signal !== 'SIGKILL' && e.code !== 0) throw new Error(`a rank failed instead of being killed (exit ${e.code}): ${e.stderr}`);
    killed++;
    if (r.lastStep > 0) midTraining++;
    if (r.interruptedSave) midSave++;
    onKill(killed, r.lastStep, r.interruptedSave);
  }
  const last = await runBoth(checkpoints, resumed);
  for (const e of last.exits) if (e.code !== 0) throw new Error(`the resumed run failed: ${e.stderr}`);
  const stray = fs.readdirSync(checkpoints).filter((f) => !/^checkpoint-\d+\.safetensors$/.test(f));
  const report = { kills: killed, midTraining, midSave, identical: sameFile(reference, resumed), stray, seconds: (Date.now() - started) / 1000 };
  if (!dir) fs.rmSync(work, { recursive: true, force: true });
  return report;
}

module.exports = { soak };

if (require.main === module) {
  const args = process.argv.slice(2);
  if (args[0] === '--worker') {
    worker(Number(args[1]), Number(args[2]), args[3], args[4]).catch((e) => {
      process.stderr.write(`${e.stack ?? e}\n`);
      process.exit(1);
    });
  } else {
    const flag = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
    const kills = Number(flag('--kills', '20'));
    soak({ kills, dir: flag('--dir', undefined), onKill: (i, step, save) => console.log(`kill ${i}/${kills}: at step ${step}${save ? ', in the middle of a save' : ''}`) }).then(
      (r) => {
        console.log(JSON.stringify(r));
        const ok = r.identical && r.stray.length === 0;
        console.log(ok ? 'soak passed: bit-identical to the uninterrupted run, no stray files' : 'soak FAILED');
        process.exitCode = ok ? 0 : 1;
      },
      (e) => {
        console.error(e.message);
        process.exitCode = 1;
      },
    );
  }
}
