/** Data: readers, the bundled digits, transforms and the native loader. */
export { Dataset, mnist, cifar10, cifar100, imageFolder, packed, fromTensors, type DatasetStats, type Split } from './dataset';
export { digits, type DigitsOptions } from './digits';
export { DataLoader, type LoaderOptions, type LoaderBatch } from './loader';
import * as transforms from './transforms';
export { transforms };
export type { Transform } from './transforms';
