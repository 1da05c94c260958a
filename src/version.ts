/** The engine version written into every checkpoint (kept equal to package.json by a test). */
export const ENGINE_VERSION = '0.1.0';
