import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
/** Each scenario's figures (`<scenario>.json`) and worker logs (`logs/<scenario>/`); git-ignored. */
export const RESULTS_DIR = join(PROJECT_ROOT, 'test-results/chaos');
