import { defineConfig } from 'vitest/config';
import { BASE } from './vitest.config.js';

/** Every suite, the heavy ones included: what `.ci/run` runs (`npm run test:all`). */
export default defineConfig({ test: BASE });
