/**
 * The Storage a path names by itself: an http(s) URL is read through an HttpStorage, a URL of
 * a registered scheme through its storage (`s3://` once waypoint/s3 is loaded), any other
 * path from the default storage. What the readers (`WptReader.open`, `loadModel`) use when
 * they are given no storage.
 */
import { HttpStorage, isHttpUrl } from './http.js';
import { type Storage, getDefaultStorage } from './storage.js';

const schemes: Array<{ matches: (path: string) => boolean; storageFor: (path: string) => Storage }> = [];

/** Makes paths that `matches` accepts resolve to `storageFor(path)` (which takes the whole URL as its path). */
export function registerUrlStorage(matches: (path: string) => boolean, storageFor: (path: string) => Storage): void {
  schemes.unshift({ matches, storageFor });
}

export function storageForPath(path: string): Storage {
  const scheme = schemes.find((s) => s.matches(path));
  if (scheme) return scheme.storageFor(path);
  return isHttpUrl(path) ? new HttpStorage() : getDefaultStorage();
}
