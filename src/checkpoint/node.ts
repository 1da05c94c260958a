/**
 * Node's built-in modules, loaded only where they exist, so the format code also runs in a
 * browser (which gets fflate and the portable CRC instead).
 */
type Zlib = typeof import('node:zlib');

interface ProcessWithBuiltins {
  getBuiltinModule?: (id: string) => unknown;
}

export function nodeZlib(): Zlib | undefined {
  const proc = (globalThis as { process?: ProcessWithBuiltins }).process;
  return proc?.getBuiltinModule?.('node:zlib') as Zlib | undefined;
}
