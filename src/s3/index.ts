/**
 * `waypoint/s3`: checkpoints in S3-compatible object storage. A separate entry, so that
 * users who do not need it load neither it nor its request signer (aws4fetch).
 */
export { S3Storage, type S3StorageOptions } from './s3-storage.js';
export type { S3Credentials } from './client.js';
export { s3StorageFromEnv, parseS3Url, isS3Url } from './env.js';

import { platform } from '../platform.js';
import { registerUrlStorage } from '../storage/url-storages.js';
import { isS3Url, parseS3Url, s3StorageFromEnv } from './env.js';
import type { S3Storage } from './s3-storage.js';

/**
 * With this entry loaded, an `s3://bucket/key` path given without a storage (`loadModel`,
 * `WptReader.open`, `Checkpoint.read`) is read through an S3Storage of its bucket, configured
 * from the environment's AWS variables (one storage per bucket).
 */
const byBucket = new Map<string, S3Storage>();
registerUrlStorage(isS3Url, (url) => {
  const { bucket } = parseS3Url(url);
  let storage = byBucket.get(bucket);
  if (!storage) {
    const env = Object.fromEntries(
      [
        'AWS_ACCESS_KEY_ID',
        'AWS_SECRET_ACCESS_KEY',
        'AWS_SESSION_TOKEN',
        'AWS_REGION',
        'AWS_DEFAULT_REGION',
        'AWS_ENDPOINT_URL',
        'AWS_ENDPOINT_URL_S3',
      ].map((name) => [name, platform().env(name)]),
    );
    storage = s3StorageFromEnv(url, env).storage;
    byBucket.set(bucket, storage);
  }
  return storage;
});
