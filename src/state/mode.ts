/** Whether a monitored metric improves by going down or up, as Keras decides it. */
export type Mode = 'min' | 'max' | 'auto';

/** Keras's rule: accuracy-like metrics are maximized, everything else minimized. */
export function resolveMode(mode: Mode, monitor: string): 'min' | 'max' {
  if (mode !== 'auto') return mode;
  return /acc|auc|precision|recall|f1/i.test(monitor) ? 'max' : 'min';
}
