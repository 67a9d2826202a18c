// fit's options as one typed config, read from the JavaScript object that src/train/fit_config.ts
// built after checking every option for users: strings become enums here, once (a value outside
// the known set is a TypeError, never a fallback), so the loop compares no strings.
#pragma once

#include <napi.h>

#include <memory>
#include <optional>

#include "nn/layer.h"
#include "train/batches.h"
#include "train/checkpoint_writer.h"
#include "train/eager_step.h"
#include "train/epoch_end.h"
#include "train/fit_hooks.h"
#include "train/loss.h"
#include "train/optimizer.h"
#include "train/schedule.h"

namespace skipnorm::train {

enum class ScheduleUnit { Epoch, Step };

struct FitConfig {
  StepSettings step;  // model, optimiser, loss, clipping, autocast
  std::unique_ptr<BatchSource> data;
  int64_t epochs = 0, steps = 0;  // exactly one is positive
  Schedule schedule;
  ScheduleUnit scheduleUnit = ScheduleUnit::Epoch;
  int64_t progressEvery = 1;
  bool channelsLast = false;
  LossScaler scaler;                // float16: the loss scaler to start from
  int64_t startStep = 0;            // resume: steps already done (the data order and schedule follow)
  std::optional<EpochSums> resumedSums;  // resume: the totals of the epoch the checkpoint was in
  std::unique_ptr<BatchSource> validation;  // null: no validation
  int64_t validateEvery = 0;                 // steps between validations; 0: at each epoch's end
  CheckpointOptions checkpoint;
  HookOptions hooks;
  bool dataParallel = false, syncBatchNorm = false, cudaGraph = false;
};

FitConfig fitConfigFromJs(const Napi::CallbackInfo& info);

LossOptions lossFromJs(const Napi::Object& o);
// In-memory tensors or a loader; loader batches go to the model's device.
std::unique_ptr<BatchSource> dataFromJs(const Napi::Object& o, const nn::Layer& model, bool forEvaluation);

}  // namespace skipnorm::train
