/** Makes this program a page: the browser platform, and IndexedDB as the default storage. */
import { installPlatform } from '../platform.js';
import { setDefaultStorage } from '../storage/storage.js';
import { browserPlatform } from './platform.js';
import { IndexedDBStorage } from './indexeddb-storage.js';

installPlatform(browserPlatform);
if (typeof indexedDB !== 'undefined') setDefaultStorage(new IndexedDBStorage());
