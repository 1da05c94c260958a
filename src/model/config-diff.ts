/** Lists how two JSON configs differ, one readable line per difference ("layers[0].units: saved 128, this is 64"). */
export function configDiff(saved: unknown, current: unknown, path = ''): string[] {
  if (Object.is(saved, current)) return [];
  const bothObjects = typeof saved === 'object' && saved !== null && typeof current === 'object' && current !== null;
  if (!bothObjects || Array.isArray(saved) !== Array.isArray(current)) {
    return [`${path || '(root)'}: saved ${JSON.stringify(saved)}, this is ${JSON.stringify(current)}`];
  }
  if (Array.isArray(saved) && Array.isArray(current)) {
    const out: string[] = [];
    if (saved.length !== current.length)
      out.push(`${path || '(root)'}: saved ${saved.length} items, this has ${current.length}`);
    for (let i = 0; i < Math.min(saved.length, current.length); i++)
      out.push(...configDiff(saved[i], current[i], `${path}[${i}]`));
    return out;
  }
  const a = saved as Record<string, unknown>,
    b = current as Record<string, unknown>;
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
  return keys.flatMap((k) => configDiff(a[k], b[k], path ? `${path}.${k}` : k));
}
