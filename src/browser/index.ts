/** The package in a browser (package.json's `browser` condition): the core, on the browser platform, with IndexedDB and OPFS storage. */
import './install.js';

export * from '../index.js';
export { IndexedDBStorage } from './indexeddb-storage.js';
export { OPFSStorage } from './opfs-storage.js';
export { requestPersistentStorage, storageEstimate } from './persistence.js';
