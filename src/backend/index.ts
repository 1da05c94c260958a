import { ArgumentError, WaypointError } from '../errors.js';
import type { Backend, BackendInfo } from './backend.js';
import { cpuBackend, cpuDetail } from './cpu.js';

export type { Backend, BackendInfo, BackendName } from './backend.js';

export type BackendChoice = 'cpu' | 'gpu' | 'auto';

/** The requested backend cannot run here; the message says why. */
export class BackendError extends WaypointError {}

let active: Backend | null = null;
let info: BackendInfo | null = null;

/**
 * Chooses where the heavy kernels run. `auto` takes the GPU only where one is really
 * there; `gpu` insists and fails with the reason when it cannot.
 */
export function setBackend(choice: BackendChoice): BackendInfo {
  if (choice === 'gpu') {
    throw new BackendError("setBackend('gpu'): this build has no gpu backend; use 'cpu' or 'auto'");
  }
  if (choice !== 'cpu' && choice !== 'auto') {
    throw new ArgumentError(`setBackend: unknown backend '${String(choice)}' (expected 'cpu', 'gpu' or 'auto')`);
  }
  active = cpuBackend;
  info = { name: 'cpu', detail: choice === 'auto' ? `${cpuDetail()} (auto: no gpu backend in this build)` : cpuDetail() };
  return info;
}

/** What runs now (choosing from WAYPOINT_BACKEND, default 'auto', on first use). */
export function getBackend(): BackendInfo {
  if (info === null) setBackend(initialChoice());
  return info as BackendInfo;
}

/** The backend ops dispatch to. */
export function backend(): Backend {
  if (active === null) setBackend(initialChoice());
  return active as Backend;
}

function initialChoice(): BackendChoice {
  const env = typeof process !== 'undefined' ? process.env.WAYPOINT_BACKEND : undefined;
  return (env as BackendChoice | undefined) ?? 'auto';
}
