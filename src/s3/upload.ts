/**
 * A file written to S3: it appears, whole, when `close` resolves, and never before. A file of
 * up to one part goes up as one PUT; a larger one as a multipart upload whose parts (of
 * `partBytes`) are sent while the next is filled, `partsInFlight` at a time, so memory stays
 * at (partsInFlight + 1) parts whatever the file's size. `abort` (or a failure) aborts the
 * upload; one left by a killed process is found and aborted later (S3Storage.abortIncompleteWrites).
 */
import type { AtomicWriteHandle, PublishCondition } from '../storage/storage.js';
import { codedError, type S3Client } from './client.js';
import { escapeXml, text } from './xml.js';

export interface UploadOptions {
  partBytes: number;
  partsInFlight: number;
  /** Whether the server enforces If-Match / If-None-Match on PUT and CompleteMultipartUpload. */
  conditional: boolean;
}

/** S3's bounds: parts of at least 5 MiB (but the last), at most 10,000 of them. */
export const MIN_PART_BYTES = 5 << 20;
const MAX_PARTS = 10_000;

export class S3Upload implements AtomicWriteHandle {
  private part: Uint8Array;
  private filled = 0;
  private uploadId: Promise<string> | null = null;
  private readonly parts: Array<Promise<string>> = [];
  private inFlight: Array<Promise<unknown>> = [];
  private failed: unknown = null;
  private state: 'open' | 'closed' | 'aborted' = 'open';
  version?: string;

  constructor(
    private readonly client: S3Client,
    private readonly key: string,
    private readonly path: string,
    private readonly condition: PublishCondition | undefined,
    private readonly options: UploadOptions,
  ) {
    this.part = new Uint8Array(options.partBytes);
  }

  async write(buffers: Uint8Array[]): Promise<void> {
    this.assertOpen();
    for (const buffer of buffers) {
      let at = 0;
      while (at < buffer.length) {
        const n = Math.min(buffer.length - at, this.part.length - this.filled);
        this.part.set(buffer.subarray(at, at + n), this.filled);
        this.filled += n;
        at += n;
        if (this.filled === this.part.length) await this.sendPart();
      }
    }
  }

  /** Nothing is durable before `close` on an object store: there is nothing to sync. */
  async sync(): Promise<void> {
    this.assertOpen();
  }

  async close(): Promise<void> {
    this.assertOpen();
    this.state = 'closed';
    try {
      if (this.uploadId === null) await this.putWhole();
      else await this.complete();
    } catch (e) {
      await this.dropUpload();
      throw e;
    }
  }

  async abort(): Promise<void> {
    if (this.state !== 'open') return;
    this.state = 'aborted';
    await Promise.allSettled(this.inFlight);
    await this.dropUpload();
  }

  private assertOpen(): void {
    if (this.failed) throw this.failed;
    if (this.state !== 'open') throw codedError('EBADF', `${this.client.name(this.key)}: the upload is ${this.state}`);
  }

  private conditionHeaders(): Record<string, string> {
    if (!this.options.conditional || !this.condition) return {};
    if (this.condition.ifAbsent) return { 'If-None-Match': '*' };
    if (this.condition.ifVersion) return { 'If-Match': this.condition.ifVersion };
    return {};
  }

  /** A precondition that failed at publication: EEXIST where the file was to be new. */
  private conflict(e: unknown): unknown {
    if ((e as { code?: string }).code !== 'ECONFLICT' || !this.condition?.ifAbsent) return e;
    return codedError('EEXIST', `${this.client.name(this.key)} exists (another writer created it first)`);
  }

  private async putWhole(): Promise<void> {
    const r = await this.client
      .send({
        method: 'PUT',
        key: this.key,
        path: this.path,
        headers: { 'Content-Type': 'application/octet-stream', ...this.conditionHeaders() },
        body: this.part.subarray(0, this.filled),
      })
      .catch((e) => {
        throw this.conflict(e);
      });
    this.version = r.headers.get('etag') ?? undefined;
  }

  /** Sends the filled part, waiting first for a slot among the parts in flight. */
  private async sendPart(): Promise<void> {
    if (this.parts.length + 1 >= MAX_PARTS)
      throw codedError(
        'EFBIG',
        `${this.client.name(this.key)}: more than ${MAX_PARTS} parts of ${this.part.length} bytes`,
      );
    this.uploadId ??= this.client
      .send({ method: 'POST', key: this.key, path: this.path, query: { uploads: '' } })
      .then((r) => {
        const id = text(new TextDecoder().decode(r.body), 'UploadId');
        if (!id) throw codedError('EIO', `${this.client.name(this.key)}: CreateMultipartUpload gave no UploadId`);
        return id;
      });
    while (this.inFlight.length >= this.options.partsInFlight) await Promise.race(this.inFlight);
    if (this.failed) throw this.failed;
    const body = this.part.subarray(0, this.filled);
    const number = this.parts.length + 1;
    const sent = this.uploadId.then((uploadId) =>
      this.client
        .send({
          method: 'PUT',
          key: this.key,
          path: this.path,
          query: { partNumber: String(number), uploadId },
          body,
        })
        .then((r) => {
          const etag = r.headers.get('etag');
          if (!etag) throw codedError('EIO', `${this.client.name(this.key)}: part ${number} came back without an ETag`);
          return etag;
        }),
    );
    this.parts.push(sent);
    const slot: Promise<unknown> = sent.then(
      () => undefined,
      (e) => {
        this.failed ??= e;
      },
    );
    const tracked = slot.finally(() => {
      this.inFlight = this.inFlight.filter((p) => p !== tracked);
    });
    this.inFlight.push(tracked);
    // The part's bytes are being sent: the next fill goes into a new buffer.
    this.part = new Uint8Array(this.part.length);
    this.filled = 0;
  }

  private async complete(): Promise<void> {
    if (this.filled > 0) await this.sendPart();
    const etags = await Promise.all(this.parts);
    const uploadId = await this.uploadId!;
    const xml =
      '<CompleteMultipartUpload>' +
      etags.map((etag, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${escapeXml(etag)}</ETag></Part>`).join('') +
      '</CompleteMultipartUpload>';
    const r = await this.client
      .send({
        method: 'POST',
        key: this.key,
        path: this.path,
        query: { uploadId },
        headers: { 'Content-Type': 'application/xml', ...this.conditionHeaders() },
        body: xml,
      })
      .catch((e) => {
        throw this.conflict(e);
      });
    this.version = text(new TextDecoder().decode(r.body), 'ETag') ?? r.headers.get('etag') ?? undefined;
  }

  private async dropUpload(): Promise<void> {
    if (this.uploadId === null) return;
    const uploadId = await this.uploadId.catch(() => null);
    if (uploadId === null) return;
    await this.client
      .send({ method: 'DELETE', key: this.key, path: this.path, query: { uploadId }, accept: [404] })
      .catch(() => undefined); // left for abortIncompleteWrites
  }
}
