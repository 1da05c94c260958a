/**
 * A validator for the JSON Schema subset docs/header.schema.json uses (type, const, enum,
 * required, properties, items, min/max, minItems/maxItems, minLength). Returns the errors.
 */
type Schema = Record<string, unknown>;

export function validateSchema(value: unknown, schema: Schema, path = '$'): string[] {
  const errors: string[] = [];
  const fail = (msg: string) => errors.push(`${path}: ${msg}`);
  if ('const' in schema && value !== schema.const) fail(`expected ${JSON.stringify(schema.const)}`);
  if (Array.isArray(schema.enum) && !schema.enum.includes(value))
    fail(`${JSON.stringify(value)} not in ${JSON.stringify(schema.enum)}`);
  const type = schema.type as string | undefined;
  const typeOk =
    type === undefined ||
    (type === 'object'
      ? typeof value === 'object' && value !== null && !Array.isArray(value)
      : type === 'array'
        ? Array.isArray(value)
        : type === 'integer'
          ? Number.isInteger(value)
          : typeof value === type);
  if (!typeOk) {
    fail(`expected ${type}`);
    return errors;
  }
  if (typeof value === 'number') {
    if (typeof schema.minimum === 'number' && value < schema.minimum) fail(`below minimum ${schema.minimum}`);
    if (typeof schema.maximum === 'number' && value > schema.maximum) fail(`above maximum ${schema.maximum}`);
  }
  if (typeof value === 'string' && typeof schema.minLength === 'number' && value.length < schema.minLength)
    fail('too short');
  if (Array.isArray(value)) {
    if (typeof schema.minItems === 'number' && value.length < schema.minItems) fail('too few items');
    if (typeof schema.maxItems === 'number' && value.length > schema.maxItems) fail('too many items');
    if (schema.items)
      value.forEach((v, i) => errors.push(...validateSchema(v, schema.items as Schema, `${path}[${i}]`)));
  }
  if (type === 'object') {
    const obj = value as Record<string, unknown>;
    for (const key of (schema.required as string[] | undefined) ?? [])
      if (!(key in obj)) fail(`missing required '${key}'`);
    for (const [key, sub] of Object.entries((schema.properties as Record<string, Schema> | undefined) ?? {})) {
      if (key in obj) errors.push(...validateSchema(obj[key], sub, `${path}.${key}`));
    }
  }
  return errors;
}
