/**
 * A Storage in an S3 bucket (AWS S3, MinIO, Cloudflare R2, Google Cloud Storage's XML API,
 * Ceph, and the local test servers), in Node and in browsers. Paths are keys under `prefix`.
 *
 * An object store has no rename, no fsync and no directories, so:
 * - files are written through `createAtomic` (checkpoints, manifests and locks straight under
 *   their names, appearing whole when their upload completes, never half); `rename` is a
 *   server-side copy and a delete, for callers that still use temporary names;
 * - a directory is a zero-byte marker object `dir/` (what S3's console makes), or any key under
 *   it: `mkdirp` writes markers, `list` lists one level with a delimiter;
 * - the conditions of `createAtomic` go to the server as If-None-Match / If-Match, where it
 *   enforces them; whether it does is probed once (a create-only PUT sent twice).
 * The crash-safety protocol this gives is in docs/FORMAT.md §10.1.
 */
import { dirname, join } from '../paths.js';
import { CheckpointError } from '../state/errors.js';
import { openRanged } from '../storage/http.js';
import type { AtomicWriteHandle, PublishCondition, ReadHandle, Storage, WriteHandle } from '../storage/storage.js';
import { codedError, S3Client, type S3ClientOptions } from './client.js';
import { MIN_PART_BYTES, S3Upload } from './upload.js';
import { elements, text, texts } from './xml.js';

export interface S3StorageOptions extends S3ClientOptions {
  /** Keys of this storage's files start with it (`runs/mnist`); paths are relative to it. */
  prefix?: string;
  /** Bytes per multipart part (at least 5 MiB); default 8 MiB. Files up to one part are one PUT. */
  partBytes?: number;
  /** Parts uploaded at once; default 4. */
  partsInFlight?: number;
  /** Warnings (a server without conditional writes); default console.warn. */
  warn?: (message: string) => void;
}

/** S3's most bytes for one CopyObject; larger files are copied in parts. */
const MAX_COPY_BYTES = 5 * 1024 ** 3;
const COPY_PART_BYTES = 1024 ** 3;

export class S3Storage implements Storage {
  readonly client: S3Client;
  private readonly prefix: string;
  private readonly knownDirs = new Set<string>();
  private bucketChecked: Promise<void> | null = null;
  private conditional: Promise<boolean> | null = null;
  readonly lockScope: string;
  readonly networked = true;

  constructor(private readonly options: S3StorageOptions) {
    this.client = new S3Client(options);
    this.prefix = (options.prefix ?? '').replace(/^\/+|\/+$/g, '');
    this.lockScope = `s3:${options.endpoint ?? 'aws'}/${options.bucket}/${this.prefix}`;
    if (options.partBytes !== undefined && !(options.partBytes >= MIN_PART_BYTES))
      throw new CheckpointError(
        'INVALID_STATE',
        `S3Storage: partBytes must be at least 5 MiB (S3's smallest part), got ${options.partBytes}`,
      );
  }

  /** The object key of a path (`.` and '' are the prefix itself); `s3://bucket/key` URLs of this bucket are taken as their key. */
  keyOf(path: string): string {
    // (`s3:/` too: path joins collapse the double slash.) A URL names the whole key: no prefix.
    const url = /^s3:\/\/?([^/]+)(?:\/|$)(.*)$/i.exec(path);
    if (url && url[1] === this.client.bucket) return join('/', url[2]).replace(/^\/+/, '');
    const clean = join('/', path).replace(/^\/+/, '');
    return this.prefix && clean ? `${this.prefix}/${clean}` : this.prefix || clean;
  }

  /** The bucket answers (clear errors for a missing bucket or bad credentials before anything else). */
  private ready(path: string): Promise<void> {
    this.bucketChecked ??= this.client
      .send({ method: 'GET', key: '', path, query: { 'list-type': '2', prefix: this.keyOf('.waypoint-bucket-check') } })
      .then(() => undefined)
      .catch((e) => {
        this.bucketChecked = null;
        throw e;
      });
    return this.bucketChecked;
  }

  async conditionalWrites(): Promise<boolean> {
    this.conditional ??= this.probeConditionalWrites().catch((e) => {
      this.conditional = null;
      throw e;
    });
    return this.conditional;
  }

  /** Sends a create-only PUT twice: a server that enforces If-None-Match refuses the second. */
  private async probeConditionalWrites(): Promise<boolean> {
    const key = this.keyOf(`.waypoint-probe-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`);
    const put = () =>
      this.client.send({
        method: 'PUT',
        key,
        path: key,
        headers: { 'If-None-Match': '*' },
        body: new Uint8Array(0),
        accept: [409, 412, 501],
      });
    const first = await put();
    const second = await put();
    await this.client.send({ method: 'DELETE', key, path: key, accept: [404] });
    const enforced = first.status < 300 && (second.status === 412 || second.status === 409);
    if (!enforced)
      (this.options.warn ?? console.warn)(
        `S3Storage: ${this.client.name(this.prefix)} is on a server that ignores conditional writes (If-None-Match): ` +
          "locks fall back to a lease read back after writing, and two writers' manifest commits are told apart only by the lock (docs/FORMAT.md §10.1)",
      );
    return enforced;
  }

  private async assertDir(dir: string, path: string): Promise<void> {
    if (await this.dirExists(dir)) return;
    throw codedError('ENOENT', `no such directory: ${this.client.name(this.keyOf(dir))}/ (for ${path})`);
  }

  private async dirExists(dir: string): Promise<boolean> {
    const key = this.keyOf(dir);
    if (key === this.prefix || this.knownDirs.has(key)) return true;
    const r = await this.client.send({
      method: 'GET',
      key: '',
      path: dir,
      query: { 'list-type': '2', delimiter: '/', prefix: `${key}/` },
    });
    const xml = new TextDecoder().decode(r.body);
    const exists = elements(xml, 'Contents').length + elements(xml, 'CommonPrefixes').length > 0;
    if (exists) this.knownDirs.add(key);
    return exists;
  }

  private async exists(key: string, path: string): Promise<boolean> {
    const r = await this.client.send({ method: 'HEAD', key, path, accept: [404] });
    return r.status !== 404;
  }

  async createExclusive(path: string): Promise<WriteHandle> {
    await this.ready(path);
    await this.assertDir(dirname(path), path);
    const key = this.keyOf(path);
    if (await this.exists(key, path)) throw codedError('EEXIST', `${this.client.name(key)} exists`);
    return this.upload(path, { ifAbsent: true });
  }

  async createAtomic(path: string, condition?: PublishCondition): Promise<AtomicWriteHandle> {
    await this.ready(path);
    await this.assertDir(dirname(path), path);
    return this.upload(path, condition);
  }

  private async upload(path: string, condition: PublishCondition | undefined): Promise<S3Upload> {
    const conditional = condition ? await this.conditionalWrites() : false;
    return new S3Upload(this.client, this.keyOf(path), path, condition, {
      partBytes: this.options.partBytes ?? 8 << 20,
      partsInFlight: this.options.partsInFlight ?? 4,
      conditional,
    });
  }

  async openRead(path: string): Promise<ReadHandle> {
    await this.ready(path);
    const key = this.keyOf(path);
    const get = async (range: string, ifMatch: string | undefined) => {
      const headers: Record<string, string> = { Range: range, ...(ifMatch ? { 'If-Match': ifMatch } : {}) };
      let r = await this.client.send({ method: 'GET', key, path, headers, accept: [416] });
      // An empty object has no last bytes to range over: read it whole.
      if (r.status === 416) r = await this.client.send({ method: 'GET', key, path });
      const response = new Response(r.status === 204 ? null : (r.body as BodyInit), {
        status: r.status,
        headers: r.headers,
      });
      return { response, body: r.body };
    };
    return openRanged(this.client.name(key), path, get).catch((e) => {
      // A file replaced between the requests of one read (a 412 on If-Match) is a changed file, as over HTTP.
      if ((e as { code?: string }).code === 'ECONFLICT')
        throw new CheckpointError(
          'CHECKSUM_MISMATCH',
          `the object changed on the server while it was read: ${(e as Error).message}`,
          { file: path },
        );
      throw e;
    });
  }

  async rename(from: string, to: string): Promise<void> {
    await this.ready(from);
    const [source, target] = [this.keyOf(from), this.keyOf(to)];
    const head = await this.client.send({ method: 'HEAD', key: source, path: from });
    const size = Number(head.headers.get('content-length'));
    const copySource = `/${this.client.bucket}/${source.split('/').map(encodeURIComponent).join('/')}`;
    if (size <= MAX_COPY_BYTES)
      await this.client.send({ method: 'PUT', key: target, path: to, headers: { 'x-amz-copy-source': copySource } });
    else await this.copyInParts(copySource, size, target, to);
    await this.client.send({ method: 'DELETE', key: source, path: from, accept: [404] });
  }

  /** A copy of more than 5 GiB: a multipart upload of UploadPartCopy ranges. */
  private async copyInParts(copySource: string, size: number, target: string, path: string): Promise<void> {
    const created = await this.client.send({ method: 'POST', key: target, path, query: { uploads: '' } });
    const uploadId = text(new TextDecoder().decode(created.body), 'UploadId')!;
    try {
      const etags: string[] = [];
      for (let at = 0, n = 1; at < size; at += COPY_PART_BYTES, n++) {
        const end = Math.min(at + COPY_PART_BYTES, size) - 1;
        const r = await this.client.send({
          method: 'PUT',
          key: target,
          path,
          query: { partNumber: String(n), uploadId },
          headers: { 'x-amz-copy-source': copySource, 'x-amz-copy-source-range': `bytes=${at}-${end}` },
        });
        etags.push(text(new TextDecoder().decode(r.body), 'ETag')!);
      }
      const xml = `<CompleteMultipartUpload>${etags.map((e, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${e.replace(/"/g, '&quot;')}</ETag></Part>`).join('')}</CompleteMultipartUpload>`;
      await this.client.send({ method: 'POST', key: target, path, query: { uploadId }, body: xml });
    } catch (e) {
      await this.client
        .send({ method: 'DELETE', key: target, path, query: { uploadId }, accept: [404] })
        .catch(() => undefined);
      throw e;
    }
  }

  /** Nothing to do: an object is durable once its upload completed. */
  async syncDir(): Promise<void> {}

  async remove(path: string): Promise<void> {
    await this.ready(path);
    await this.client.send({ method: 'DELETE', key: this.keyOf(path), path, accept: [404] });
  }

  async mkdirp(dir: string): Promise<void> {
    await this.ready(dir);
    const parts = join('/', dir).split('/').filter(Boolean);
    for (let i = 1; i <= parts.length; i++) {
      const key = this.keyOf(parts.slice(0, i).join('/'));
      if (this.knownDirs.has(key)) continue;
      await this.client.send({ method: 'PUT', key: `${key}/`, path: dir, body: new Uint8Array(0) });
      this.knownDirs.add(key);
    }
  }

  async removeEmptyDir(dir: string): Promise<void> {
    await this.ready(dir);
    const key = this.keyOf(dir);
    const query = { 'list-type': '2', delimiter: '/', prefix: `${key}/` };
    const xml = new TextDecoder().decode((await this.client.send({ method: 'GET', key: '', path: dir, query })).body);
    const keys = texts(xml, 'Key');
    if (keys.length === 1 && keys[0] === `${key}/` && elements(xml, 'CommonPrefixes').length === 0) {
      await this.client.send({ method: 'DELETE', key: `${key}/`, path: dir, accept: [404] });
      this.knownDirs.delete(key);
    }
  }

  async list(dir: string): Promise<string[]> {
    await this.ready(dir);
    const base = this.keyOf(dir);
    const prefix = base ? `${base}/` : '';
    const names = new Set<string>();
    let any = false;
    let token: string | undefined;
    do {
      const query: Record<string, string> = { 'list-type': '2', delimiter: '/', prefix };
      if (token) query['continuation-token'] = token;
      const xml = new TextDecoder().decode((await this.client.send({ method: 'GET', key: '', path: dir, query })).body);
      for (const key of elements(xml, 'Contents').map((c) => text(c, 'Key') ?? '')) {
        any = true;
        const name = key.slice(prefix.length);
        if (name) names.add(name);
      }
      for (const p of elements(xml, 'CommonPrefixes').map((c) => text(c, 'Prefix') ?? '')) {
        any = true;
        names.add(p.slice(prefix.length).replace(/\/$/, ''));
      }
      token = text(xml, 'IsTruncated') === 'true' ? text(xml, 'NextContinuationToken') : undefined;
    } while (token);
    if (!any && base !== this.prefix) throw codedError('ENOENT', `no such directory: ${this.client.name(prefix)}`);
    if (any) this.knownDirs.add(base);
    return [...names];
  }

  async abortIncompleteWrites(dir: string, owned: (name: string) => boolean): Promise<string[]> {
    await this.ready(dir);
    const base = this.keyOf(dir);
    const prefix = base ? `${base}/` : '';
    const aborted: string[] = [];
    let marker: Record<string, string> = {};
    for (;;) {
      const query = { uploads: '', prefix, ...marker };
      const listed = await this.client.send({ method: 'GET', key: '', path: dir, query, accept: [501] });
      if (listed.status === 501) {
        (this.options.warn ?? console.warn)(
          `S3Storage: the server of ${this.client.name(prefix)} cannot list unfinished multipart uploads (NotImplemented): ` +
            'those a killed process left are not aborted here; a lifecycle rule (AbortIncompleteMultipartUpload) can',
        );
        return aborted;
      }
      const xml = new TextDecoder().decode(listed.body);
      for (const upload of elements(xml, 'Upload')) {
        const key = text(upload, 'Key') ?? '';
        const name = key.slice(prefix.length);
        if (name.includes('/') || !owned(name)) continue;
        const uploadId = text(upload, 'UploadId') ?? '';
        await this.client.send({ method: 'DELETE', key, path: join(dir, name), query: { uploadId }, accept: [404] });
        aborted.push(name);
      }
      if (text(xml, 'IsTruncated') !== 'true') return aborted;
      marker = {
        'key-marker': text(xml, 'NextKeyMarker') ?? '',
        'upload-id-marker': text(xml, 'NextUploadIdMarker') ?? '',
      };
    }
  }
}
