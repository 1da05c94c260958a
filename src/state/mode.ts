/** Whether a monitored metric improves by going down or up, as Keras decides it. */
export type Mode = 'min' | 'max' | 'auto';

/** Keras's rule: accuracy-like metrics are maximized, everything else minimized. */
export function resolveMode(mode: Mode, monitor: string): 'min' | 'max' {
  if (mode !== 'auto') return mode;
  return /acc|auc|precision|recall|f1/i.test(monitor) ? 'max' : 'min';
}

/**
 * The direction of a metric Waypoint computes, from its name (`val_` stripped): losses (an
 * output's too, `kind_loss`) and errors go down, accuracies up; null when the name says
 * neither (Keras then refuses to guess).
 */
export function metricDirection(monitor: string): 'min' | 'max' | null {
  const name = monitor.replace(/^val_/, '');
  if (/acc|auc|precision|recall|f1/i.test(name)) return 'max';
  if (/(^|_)loss$|crossentropy|^mse$|^mae$|error|hinge|kld|poisson/i.test(name)) return 'min';
  return null;
}
