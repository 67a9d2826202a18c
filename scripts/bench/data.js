'use strict';
// skipnorm side of the data benchmark (as data.py): the native loader over the same generated
// JPEGs, and over them packed at 256x256, with randomResizedCrop(224) + horizontalFlip +
// normalize into batches of 32, plain and channels-last, on 1 thread; JPEGs with all threads;
// and, printed to stderr (no PyTorch counterpart), in-memory MNIST- and CIFAR-shaped batches
// through the loader, in images/s. Prints microseconds per image. `--prepare` packs the JPEGs
// (which data.py --prepare writes) for both sides.
const os = require('node:os');
const path = require('node:path');
const sn = require('../..');

const threads = Number(process.argv[2]);
const T = sn.data.transforms;

async function perImage(loader, epochs) {
  let n = 0;
  const start = process.hrtime.bigint();
  for (let e = 0; e < epochs; e++) {
    for await (const b of loader.epoch(e)) {
      n += b.input.shape[0];
      sn.dispose([b.input, b.labels]);
    }
  }
  return Number(process.hrtime.bigint() - start) / 1e3 / n;
}

const root = path.join(os.tmpdir(), 'skipnorm-bench-jpeg');
const packedFile = path.join(root, 'packed-256.snpack');

(async () => {
  sn.setNumThreads(1);
  const folder = await sn.data.imageFolder({ root });
  if (process.argv[2] === '--prepare') {
    await folder.pack(packedFile, { size: 256 });
    console.log('{}');
    return;
  }
  const packed = await sn.data.packed(packedFile);
  const transforms = [T.randomResizedCrop(224), T.horizontalFlip(), T.normalize(sn.data.transforms.IMAGENET_MEAN, sn.data.transforms.IMAGENET_STD)];
  const result = {};
  for (const [layout, channelsLast] of [['plain', false], ['channels-last', true]]) {
    for (const [name, ds, epochs] of [['JPEG 500x375', folder, 2], ['packed 256x256', packed, 4]]) {
      const loader = new sn.data.DataLoader(ds, { batchSize: 32, threads: 1, transforms, channelsLast });
      await perImage(loader, 1); // warm
      result[`${name} to random resized crop 224 + flip + normalise, 1 thread, ${layout}`] = await perImage(loader, epochs);
      loader.dispose();
    }
  }
  const loader = new sn.data.DataLoader(folder, { batchSize: 32, threads, transforms, prefetch: 2 * threads });
  await perImage(loader, 1); // warm
  result[`JPEG 500x375 to random resized crop 224 + flip + normalise, ${threads} threads`] = await perImage(loader, 2);
  loader.dispose();

  const inMemory = async (name, images, labels, tf) => {
    const ds = sn.data.fromTensors(images, labels);
    const loader = new sn.data.DataLoader(ds, { batchSize: 256, threads, transforms: tf, prefetch: 4 });
    const us = await perImage(loader, 1);
    process.stderr.write(`${name}: ${Math.round(1e6 / us).toLocaleString('en')} images/s (${threads} threads)\n`);
    loader.dispose();
    ds.dispose();
    sn.dispose([images, labels]);
  };
  await inMemory('MNIST-shaped batches (60,000 x 28x28, normalise)', sn.randint(0, 256, [60000, 28, 28, 1], { dtype: 'uint8' }), sn.randint(0, 10, [60000]), [T.normalize([0.1307], [0.3081])]);
  await inMemory(
    'CIFAR-shaped batches (50,000 x 32x32x3, random crop 32 pad 4, flip, normalise)',
    sn.randint(0, 256, [50000, 32, 32, 3], { dtype: 'uint8' }),
    sn.randint(0, 10, [50000]),
    [T.randomCrop(32, { padding: 4 }), T.horizontalFlip(), T.normalize([0.4914, 0.4822, 0.4465], [0.247, 0.243, 0.261])],
  );
  process.stdout.write(`${JSON.stringify(result)}\n`);
})();
