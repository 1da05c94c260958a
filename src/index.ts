export { WaypointError, ShapeError, ArgumentError } from './errors.js';
export { Tensor, tensor, zeros, ones, full, randn, noGrad, isGradEnabled } from './tensor/tensor.js';
export type { NestedArray, TensorLike } from './tensor/tensor.js';
export { keep } from './tensor/memory.js';
export * from './tensor/ops.js';
export { Random, defaultRandom, setGlobalSeed } from './tensor/random.js';
export type { RandomState } from './tensor/random.js';
export {
  setBackend,
  initBackend,
  getBackend,
  BackendError,
  GpuBackend,
  GpuUnavailableError,
  AUTO_MIN_MULTIPLY_ADDS,
  configureThreads,
  startThreads,
} from './backend/index.js';
export type {
  BackendChoice,
  BackendInfo,
  BackendName,
  SetBackendOptions,
  GpuMode,
  GpuModeRequest,
  ThreadOptions,
} from './backend/index.js';
export * from './state/index.js';
export * from './storage/index.js';
export * from './runs/index.js';
export * from './checkpoint/index.js';
export * from './nn/index.js';
export * from './optim/index.js';
export { Model } from './model/model.js';
export type { ModelArgs, FunctionalConfig, SequentialConfig, ForwardContext } from './model/model.js';
export { Sequential } from './model/sequential.js';
export type { SequentialOptions } from './model/sequential.js';
export type { CompileOptions, PerOutput } from './model/compile.js';
export type { ModelData } from './model/model-data.js';
export { History } from './model/history.js';
export type { Logs } from './model/history.js';
export { Callback, CallbackList } from './model/callback.js';
export { ProgressBar } from './model/progress.js';
export type { ProgressBarOptions, ProgressSink, TextElement } from './model/progress.js';
export type { FitOptions, EvaluateOptions } from './model/fit.js';
export type { FitDatasetOptions, EvaluateDatasetOptions } from './model/fit-dataset.js';
export type { LoopOptions } from './model/train-loop.js';
export { FitContext } from './model/callback.js';
export type { FitParams, FitStart, EpochTotals, CallbackHooks } from './model/callback.js';
export { loadMnist } from './data/mnist.js';
export * from './data/index.js';
export type { MnistData, MnistOptions } from './data/mnist.js';
export { restoreModel, trainingCheckpoint } from './model/persistence.js';
export { loadModel } from './model/load.js';
export { ModelCheckpoint } from './callbacks/model-checkpoint.js';
export type { ModelCheckpointOptions } from './callbacks/model-checkpoint.js';
export { BackupAndRestore } from './callbacks/backup-and-restore.js';
export type { BackupAndRestoreOptions } from './callbacks/backup-and-restore.js';
export { EarlyStopping } from './callbacks/early-stopping.js';
export type { EarlyStoppingOptions } from './callbacks/early-stopping.js';
export { CSVLogger } from './callbacks/csv-logger.js';
export type { CSVLoggerOptions } from './callbacks/csv-logger.js';
export { TerminateOnNaN, NonFiniteLossError } from './callbacks/terminate-on-nan.js';
export { TensorBoard } from './callbacks/tensorboard.js';
export type { TensorBoardOptions } from './callbacks/tensorboard.js';
export { readLogs, readRun } from './tensorboard/reader.js';
export { bundleLogs } from './tensorboard/bundle.js';
export { exportSafetensors, importSafetensors } from './interop/weights.js';
export type { WeightsLayout, ImportReport } from './interop/weights.js';
export { torchSource } from './interop/torch-layout.js';
export { exportOnnx } from './interop/onnx.js';
export { exportTfjs, importTfjs } from './interop/tfjs.js';
export type { TfjsArtifacts } from './interop/tfjs.js';
export type { OnnxOptions } from './interop/onnx.js';
export { encodeSafetensors, parseSafetensors, SafetensorsError } from './interop/safetensors.js';
export type { RunLogs, Point } from './tensorboard/reader.js';
export { crc32c, maskedCrc32c } from './tensorboard/crc32c.js';
export { ReduceLROnPlateau } from './callbacks/reduce-lr-on-plateau.js';
export type { ReduceLROnPlateauOptions } from './callbacks/reduce-lr-on-plateau.js';
export { LearningRateScheduler } from './callbacks/learning-rate-scheduler.js';
export type { LearningRateSchedulerOptions } from './callbacks/learning-rate-scheduler.js';
export type { TerminateOnNaNOptions } from './callbacks/terminate-on-nan.js';
export { TrainingInterruptedError, interruptOnSignals, exitCodeFor } from './model/interrupt.js';
export type { InterruptOnSignalsOptions } from './model/interrupt.js';
export { yieldToEventLoop } from './model/event-loop.js';
export type { ModelSaveOptions, ModelLoadOptions } from './model/persistence.js';
export { selectBest } from './model/select.js';
export { averageCheckpoints } from './model/average.js';
export type { AverageSource, AverageOptions } from './model/average.js';
export type { RankedCheckpoint } from './model/select.js';
export { formatTemplate } from './callbacks/template.js';
