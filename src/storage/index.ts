export {
  getDefaultStorage,
  setDefaultStorage,
  writeFully,
  writeFileAtomic,
  writeNewFile,
  readFileIfExists,
} from './storage.js';
export type { Storage, ReadHandle, WriteHandle, AtomicWriteHandle, PublishCondition, UploadStatus } from './storage.js';
export { TieredStorage, type TieredStorageOptions } from './tiered.js';
export { MemoryStorage } from './memory.js';
export { HttpStorage, isHttpUrl, type HttpStorageOptions } from './http.js';
export { osError } from './os-errors.js';
export { TEMP_SUFFIX, tempPathFor } from './temp-names.js';
export { rootedAt } from './rooted.js';
export { registerUrlStorage, storageForPath } from './url-storages.js';
