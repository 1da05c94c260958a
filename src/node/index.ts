/** The package in Node (package.json's `node` condition): the core, on the Node platform, with the file system. */
import './install.js';

export * from '../index.js';
export { fsStorage } from './fs-storage.js';
