/**
 * `s3://bucket/prefix` paths with their credentials and endpoint from the usual environment
 * variables (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION or
 * AWS_DEFAULT_REGION, AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL), as the AWS CLI reads them.
 */
import { CheckpointError } from '../state/errors.js';
import { S3Storage, type S3StorageOptions } from './s3-storage.js';

/** Whether a path is an `s3://` URL. */
export const isS3Url = (path: string): boolean => /^s3:\/\//i.test(path);

/** `s3://bucket/a/b` → { bucket: 'bucket', key: 'a/b' }. */
export function parseS3Url(url: string): { bucket: string; key: string } {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/i.exec(url);
  if (!m || !m[1])
    throw new CheckpointError('NOT_FOUND', `'${url}' is not an s3:// URL (s3://bucket/prefix)`, { file: url });
  return { bucket: m[1], key: m[2].replace(/\/+$/, '') };
}

/**
 * An S3Storage for the bucket of `url`, rooted at the bucket (paths are keys), configured from
 * `env`; `key` is the URL's key. Missing credentials are an error that names the variables.
 */
export function s3StorageFromEnv(
  url: string,
  env: Record<string, string | undefined>,
  options: Partial<S3StorageOptions> = {},
): { storage: S3Storage; key: string } {
  const { bucket, key } = parseS3Url(url);
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  if (!options.sign && (!accessKeyId || !secretAccessKey))
    throw new CheckpointError(
      'PERMISSION_DENIED',
      `no credentials for ${url}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary ones)`,
      { file: url },
    );
  const storage = new S3Storage({
    bucket,
    endpoint: env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL,
    region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION,
    ...(accessKeyId && secretAccessKey
      ? { credentials: { accessKeyId, secretAccessKey, sessionToken: env.AWS_SESSION_TOKEN } }
      : {}),
    ...options,
  });
  return { storage, key };
}
