/**
 * `waypoint/s3`: checkpoints in S3-compatible object storage. A separate entry, so that
 * users who do not need it load neither it nor its request signer (aws4fetch).
 */
export { S3Storage, type S3StorageOptions } from './s3-storage.js';
export type { S3Credentials } from './client.js';
export { s3StorageFromEnv, parseS3Url, isS3Url } from './env.js';
