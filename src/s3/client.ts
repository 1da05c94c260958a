/**
 * S3's requests: addressed (path-style, or virtual-hosted on AWS), signed with Signature V4
 * (aws4fetch, an optional peer loaded at the first request, or the caller's own `sign`), retried with doubling delays on what a retry can
 * mend (a dropped connection, 5xx, 429, S3's SlowDown and RequestTimeout), and every other
 * failure turned into an error that names the request and what to check. Credentials never
 * appear in a message.
 */
import { CheckpointError } from '../state/errors.js';
import { text } from './xml.js';

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface S3ClientOptions {
  /** `https://s3.eu-west-1.amazonaws.com`, `http://127.0.0.1:9000` (MinIO), an R2 account's endpoint; default AWS's for `region`. */
  endpoint?: string;
  bucket: string;
  /** Default `us-east-1` (what MinIO and most local servers expect). */
  region?: string;
  credentials?: S3Credentials;
  /** Signs a request instead of `credentials` (temporary credentials from elsewhere, a signing proxy). */
  sign?: (request: Request) => Promise<Request>;
  /** Default globalThis.fetch. */
  fetch?: typeof globalThis.fetch;
  /** Bucket in the path (`endpoint/bucket/key`); default true except on amazonaws.com. */
  forcePathStyle?: boolean;
  /** Tries of a request a retry can mend; default 5. */
  attempts?: number;
  /** The first retry's delay, doubled each time; default 200 ms. */
  retryDelayMs?: number;
}

export interface S3Request {
  method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'DELETE';
  key: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: Uint8Array | string;
  /** Statuses the caller handles (beside 2xx); any other is mapped to an error. */
  accept?: number[];
  /** The Storage path the request is for, named in errors. */
  path: string;
}

export interface S3Response {
  status: number;
  headers: Headers;
  body: Uint8Array;
}

/** S3 error codes a retry can mend (besides any 5xx and 429). */
const RETRIED_CODES = new Set([
  'SlowDown',
  'RequestTimeout',
  'RequestTimeTooSkewed',
  'InternalError',
  'ServiceUnavailable',
]);

/** An Error with an errno-like `code` (ENOENT, EEXIST, ECONFLICT), as Storage methods throw. */
export const codedError = (code: string, message: string): Error => Object.assign(new Error(message), { code });

/** S3's rule for a key in a URL: every byte percent-encoded but unreserved characters and '/'. */
export const encodeKey = (key: string): string =>
  encodeURIComponent(key)
    .replace(/%2F/g, '/')
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

export class S3Client {
  private readonly signer: (url: string, init: RequestInit) => Promise<Request>;
  private readonly base: string;
  readonly bucket: string;
  /** Requests sent (tries included), by method: what `bench -- remote` reports. */
  readonly sent = { requests: 0, bytesUp: 0, bytesDown: 0 };

  constructor(private readonly options: S3ClientOptions) {
    const region = options.region ?? 'us-east-1';
    const endpoint = (options.endpoint ?? `https://s3.${region}.amazonaws.com`).replace(/\/+$/, '');
    const url = new URL(endpoint);
    const pathStyle = options.forcePathStyle ?? !url.hostname.endsWith('amazonaws.com');
    this.bucket = options.bucket;
    this.base = pathStyle
      ? `${endpoint}/${options.bucket}`
      : `${url.protocol}//${options.bucket}.${url.host}${url.pathname}`;
    const sign = options.sign;
    if (sign) this.signer = (url, init) => sign(new Request(url, init));
    else if (options.credentials) {
      const credentials = options.credentials;
      let aws: Promise<{ sign(url: string, init: RequestInit): Promise<Request> }> | null = null;
      // Signed from the parts, not a Request: aws4fetch reads a Request's body only when it has a Content-Type.
      this.signer = async (url, init) => {
        aws ??= loadSigner().then((AwsClient) => new AwsClient({ ...credentials, service: 's3', region, retries: 0 }));
        return (await aws).sign(url, init);
      };
    } else
      throw new CheckpointError(
        'PERMISSION_DENIED',
        `S3Storage for bucket '${options.bucket}' was given no credentials and no sign function ` +
          '(from the environment: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)',
      );
  }

  /** `s3://bucket/key`, for messages. */
  name = (key: string): string => `s3://${this.bucket}/${key}`;

  private url(key: string, query?: Record<string, string>): string {
    const q = query
      ? Object.entries(query)
          .map(([k, v]) => (v === '' ? encodeURIComponent(k) : `${encodeURIComponent(k)}=${encodeURIComponent(v)}`))
          .join('&')
      : '';
    return `${this.base}/${encodeKey(key)}${q ? `?${q}` : ''}`;
  }

  /** Sends `req`, retrying what a retry can mend; resolves with a 2xx or an accepted status. */
  async send(req: S3Request): Promise<S3Response> {
    const fetchFn = this.options.fetch ?? globalThis.fetch;
    const attempts = this.options.attempts ?? 5;
    let delay = this.options.retryDelayMs ?? 200;
    const url = this.url(req.key, req.query);
    const what = `${req.method} ${this.name(req.key)}${req.query ? `?${Object.keys(req.query).join('&')}` : ''}`;
    let last = '';
    for (let attempt = 1; ; attempt++) {
      let response: Response | undefined;
      let body: Uint8Array | undefined;
      // Signed before the try: a signer that cannot load is no network failure to retry.
      const signed = await this.signer(url, {
        method: req.method,
        headers: req.headers,
        body: req.body as BodyInit | undefined,
      });
      try {
        this.sent.requests++;
        this.sent.bytesUp += typeof req.body === 'string' ? req.body.length : (req.body?.length ?? 0);
        response = await fetchFn(signed);
        // A body cut short by the network rejects here: tried again like a dropped connection.
        body = new Uint8Array(await response.arrayBuffer());
        this.sent.bytesDown += body.length;
      } catch (cause) {
        last = `network error: ${(cause as Error).message}${(cause as { cause?: Error }).cause ? ` (${(cause as { cause: Error }).cause.message})` : ''}`;
      }
      if (response && body) {
        const { status } = response;
        if ((status >= 200 && status < 300) || req.accept?.includes(status)) {
          // CopyObject and CompleteMultipartUpload can fail after their 200 has been sent: the error is the body.
          const late = status === 200 && req.method !== 'GET' ? errorOf(body) : undefined;
          if (!late) return { status, headers: response.headers, body };
          last = `${late.code}: ${late.message}`;
          if (!RETRIED_CODES.has(late.code)) throw this.failure(req, what, status, late);
        } else {
          const error = errorOf(body) ?? { code: `HTTP ${status}`, message: response.statusText };
          last = `${status} ${error.code}${error.message ? `: ${error.message}` : ''}`;
          if (!(status >= 500 || status === 429 || RETRIED_CODES.has(error.code)))
            throw this.failure(req, what, status, error);
        }
      }
      if (attempt >= attempts) {
        const throttled = /SlowDown|429|503/.test(last) ? 'the server kept throttling: ' : '';
        throw new CheckpointError('IO', `${what} failed ${attempts} times; ${throttled}the last: ${last}`, {
          file: req.path,
        });
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay *= 2;
    }
  }

  /** The error for a response no retry can mend. */
  private failure(req: S3Request, what: string, status: number, error: { code: string; message: string }): Error {
    const detail = `${what}: ${status} ${error.code}${error.message ? ` (${error.message})` : ''}`;
    const file = req.path;
    switch (error.code) {
      case 'NoSuchBucket':
        return new CheckpointError(
          'NOT_FOUND',
          `there is no bucket '${this.bucket}' at ${this.options.endpoint ?? 'AWS'}: create it, or check the bucket name and the endpoint (AWS_ENDPOINT_URL); ${detail}`,
          { file },
        );
      case 'InvalidAccessKeyId':
        return new CheckpointError(
          'PERMISSION_DENIED',
          `the server does not know the access key id: check AWS_ACCESS_KEY_ID; ${detail}`,
          { file },
        );
      case 'SignatureDoesNotMatch':
        return new CheckpointError(
          'PERMISSION_DENIED',
          `the request's signature does not match: check AWS_SECRET_ACCESS_KEY and AWS_REGION; ${detail}`,
          { file },
        );
      case 'ExpiredToken':
      case 'TokenRefreshRequired':
        return new CheckpointError(
          'PERMISSION_DENIED',
          `the session token has expired: renew AWS_SESSION_TOKEN; ${detail}`,
          {
            file,
          },
        );
      case 'PreconditionFailed':
      case 'ConditionalRequestConflict':
        return codedError('ECONFLICT', `another writer changed ${this.name(req.key)} first: ${detail}`);
    }
    if (status === 404) return codedError('ENOENT', `no such object: ${detail}`);
    if (status === 412 || status === 409)
      return codedError('ECONFLICT', `another writer changed ${this.name(req.key)} first: ${detail}`);
    if (status === 401 || status === 403)
      return new CheckpointError(
        'PERMISSION_DENIED',
        `no permission for ${req.method} on ${this.name(req.key)}: check the credentials' policy for this bucket and prefix; ${detail}`,
        { file },
      );
    return new CheckpointError('IO', detail, { file });
  }
}

/** The `<Error>` a body holds, if it is one. */
function errorOf(body: Uint8Array): { code: string; message: string } | undefined {
  if (body.length === 0 || body.length > 1 << 16) return undefined;
  const xml = new TextDecoder().decode(body);
  if (!/<Error[\s>]/.test(xml)) return undefined;
  return { code: text(xml, 'Code') ?? 'UnknownError', message: text(xml, 'Message') ?? '' };
}

/** aws4fetch's AwsClient, imported when first needed: an optional peer, installed by those who use S3. */
async function loadSigner(): Promise<typeof import('aws4fetch').AwsClient> {
  try {
    return (await import('aws4fetch')).AwsClient;
  } catch (cause) {
    throw new CheckpointError(
      'IO',
      "S3Storage signs its requests with aws4fetch, an optional peer dependency that is not installed: run 'npm install aws4fetch' (88 KB, no dependencies), or pass `sign`",
      { cause },
    );
  }
}
