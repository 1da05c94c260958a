// gpu.js's browser build is a UMD script without types of its own; src/backend/gpu.ts types what it uses.
declare module 'gpu.js/dist/gpu-browser.min.js' {
  const gpuJs: unknown;
  export default gpuJs;
}
