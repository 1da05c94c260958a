/**
 * A reverse proxy on 127.0.0.1 in front of a real server (the S3 servers of s3-servers.ts),
 * injecting the faults a network and a busy object store produce: a connection dropped
 * before the request is answered or in the middle of an upload's body, an error status
 * (500, 503 SlowDown, 403 AccessDenied) answered in the server's stead, a response body
 * that comes slowly, or one cut short after its headers promised more. Faults are planned
 * for the requests that match (method, and a test on the URL), each for its next `times`
 * matches; every request is counted, with the bytes each way.
 */
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type FaultKind =
  | { kind: 'drop' }
  | { kind: 'dropMidUpload'; afterBytes: number }
  | { kind: 'status'; status: number; code: string }
  | { kind: 'slow'; msPerChunk: number }
  | { kind: 'truncate'; afterBytes: number };

export interface PlannedFault {
  method?: string;
  /** Tested against the request's path and query. */
  url?: RegExp;
  /** How many matching requests get the fault (default 1). */
  times?: number;
  /** Only every `every`-th matching request gets it (default 1: each). */
  every?: number;
  /** The fault, or faults taken in turn (one per faulted request). */
  fault: FaultKind | FaultKind[];
}

export interface FaultProxy {
  endpoint: string;
  plan(fault: PlannedFault): void;
  /** Drops every planned fault. */
  clear(): void;
  /** Faults planned and not yet used up. */
  readonly pending: number;
  log: Array<{ method: string; url: string; status: number; up: number; down: number; fault?: string }>;
  close(): Promise<void>;
}

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const upstream = new URL(target);
  const plans: Array<PlannedFault & { left: number; seen: number }> = [];
  const log: FaultProxy['log'] = [];

  const take = (req: IncomingMessage): FaultKind | undefined => {
    const plan = plans.find(
      (p) => p.left > 0 && (!p.method || p.method === req.method) && (!p.url || p.url.test(req.url ?? '')),
    );
    if (!plan) return undefined;
    if (++plan.seen % (plan.every ?? 1) !== 0) return undefined;
    plan.left--;
    return Array.isArray(plan.fault) ? plan.fault[plan.left % plan.fault.length] : plan.fault;
  };

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const fault = take(req);
    const entry = { method: req.method ?? '', url: req.url ?? '', status: 0, up: 0, down: 0, fault: fault?.kind };
    log.push(entry);
    if (fault?.kind === 'drop') {
      req.resume();
      req.socket.destroy();
      return;
    }
    if (fault?.kind === 'status') {
      req.resume();
      req.on('end', () => {
        entry.status = fault.status;
        const xml = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${fault.code}</Code><Message>injected by the fault proxy</Message></Error>`;
        res
          .writeHead(fault.status, { 'Content-Type': 'application/xml', 'Content-Length': String(xml.length) })
          .end(xml);
      });
      return;
    }
    const forward = request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (answer) => {
        entry.status = answer.statusCode ?? 0;
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        let sent = 0;
        answer.on('data', async (chunk: Buffer) => {
          if (fault?.kind === 'truncate' && sent + chunk.length > fault.afterBytes) {
            res.write(chunk.subarray(0, Math.max(0, fault.afterBytes - sent)), () => res.destroy());
            answer.destroy();
            return;
          }
          sent += chunk.length;
          entry.down += chunk.length;
          if (fault?.kind === 'slow') {
            answer.pause();
            await new Promise((r) => setTimeout(r, fault.msPerChunk));
            answer.resume();
          }
          res.write(chunk);
        });
        answer.on('end', () => res.end());
        answer.on('error', () => res.destroy());
      },
    );
    forward.on('error', () => res.destroy());
    req.on('data', (chunk: Buffer) => {
      entry.up += chunk.length;
      if (fault?.kind === 'dropMidUpload' && entry.up >= fault.afterBytes) {
        forward.destroy();
        req.socket.destroy();
        return;
      }
      forward.write(chunk);
    });
    req.on('end', () => forward.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    plan: (fault) => plans.push({ ...fault, left: fault.times ?? 1, seen: 0 }),
    clear: () => void (plans.length = 0),
    get pending() {
      return plans.reduce((n, p) => n + p.left, 0);
    },
    log,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
