/** Training: optimisers, schedules, the native training loop. */
export { Optimizer, SGD, Adam, AdamW, type SGDOptions, type AdamOptions, type ParamGroup, type ParamSelector, type ParamGroupInfo, type OptimizerConfig } from './optim';
export { scheduleFactor, type Schedule } from './schedule';
export { saveCheckpoint, loadCheckpoint, latestCheckpoint, listCheckpoints, checkpointProblem, CHECKPOINT_FORMAT, type CheckpointInfo, type EpochSums } from './checkpoint';
export { fit, evaluate, type FitOptions, type FitResult, type TensorData, type FitData, type StepEvent, type EpochEvent, type EpochRecord, type ValidationEvent, type HookEvent, type EvaluateResult } from './fit';
export { snapshot, type WeightSnapshot } from './snapshot';
