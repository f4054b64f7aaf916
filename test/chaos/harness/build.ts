/**
 * Global setup of the chaos suite: builds `dist/` once, so every worker process runs the shipped JavaScript and
 * starts in about a second.
 */
import { spawnSync } from 'node:child_process';
import { PROJECT_ROOT } from './paths.js';

export default function setup(): void {
  const build = spawnSync('npm', ['run', 'build', '--silent'], { cwd: PROJECT_ROOT, encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`npm run build failed:\n${build.stdout}${build.stderr}`);
}
