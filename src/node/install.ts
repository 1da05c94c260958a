/**
 * Makes this program a Node one: the Node platform, and the file system as the default
 * storage. The Node entry imports it first, so it runs before any other module of the package.
 */
import { installPlatform } from '../platform.js';
import { setDefaultStorage } from '../storage/storage.js';
import { nodePlatform } from './platform.js';
import { fsStorage } from './fs-storage.js';

installPlatform(nodePlatform);
setDefaultStorage(fsStorage);
