/**
 * `import 'waypoint/gpu'`: lets a page's gpu backend load gpu.js's browser build (an optional
 * peer dependency) through a dynamic import, which a bundler splits into a chunk of its own
 * that loads only when `await initBackend('gpu' | 'auto')` asks for it. A page that never
 * imports this never resolves gpu.js, so it bundles without gpu.js installed.
 */
import { registerGpuJs } from './platform.js';

registerGpuJs(() => import('gpu.js/dist/gpu-browser.min.js'));
