export { exportRun, importRun, copyRun, listRuns, INDEX_NAME, type RunIndex, type RunInfo, type RunSource } from './runs.js';
