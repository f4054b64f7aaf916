/**
 * `npm run chaos:report`: turns the figures of the last `npm run test:chaos` (test-results/chaos/*.json) into the
 * table of docs/RELIABILITY.md, between its `chaos-report` markers, and prints it.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Figures } from '../test/chaos/harness/figures.js';

const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');
const RESULTS = join(ROOT, 'test-results/chaos');
const DOC = join(ROOT, 'docs/RELIABILITY.md');
const START = '<!-- chaos-report:start -->';
const END = '<!-- chaos-report:end -->';

function table(all: Figures[]): string {
  const rows = all.map((f) => {
    const result = f.passed === null ? 'not finished' : f.passed ? 'pass' : '**fail**';
    const recovery = f.recoverySeconds === null ? '–' : String(f.recoverySeconds);
    return `| ${f.scenario} | ${f.title} | ${f.acknowledged} | ${f.delivered} | ${f.failed} | ${f.lost} | ${f.duplicates} | ${recovery} | ${f.durationSeconds} | ${result} |`;
  });
  const latest =
    all
      .map((f) => f.at)
      .sort()
      .at(-1) ?? 'never';
  const failures = all
    .filter((f) => f.passed !== true)
    .map((f) => {
      const reasons = Object.entries(f.failedReasons).map(([reason, n]) => `${n} × ${reason}`);
      const why = [f.failure, ...f.problems, ...(reasons.length ? [`failed: ${reasons.join(', ')}`] : [])];
      return `- **${f.scenario}**: ${why.filter(Boolean).join('; ') || 'not finished'}`;
    });
  return [
    `Last run: ${latest.slice(0, 16).replace('T', ' ')} UTC.`,
    '',
    '| scenario | what | acknowledged | delivered | failed | lost | duplicates | recovery (s) | duration (s) | result |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    ...rows,
    ...(failures.length ? ['', 'Failed:', '', ...failures] : []),
  ].join('\n');
}

const files = existsSync(RESULTS)
  ? readdirSync(RESULTS)
      .filter((name) => name.endsWith('.json'))
      .sort()
  : [];
if (files.length === 0) {
  process.stderr.write(`chaos:report: no figures in ${RESULTS}; run npm run test:chaos first\n`);
  process.exit(1);
}
const figures = files.map((name) => JSON.parse(readFileSync(join(RESULTS, name), 'utf8')) as Figures);
const markdown = table(figures);
const doc = readFileSync(DOC, 'utf8');
const start = doc.indexOf(START);
const end = doc.indexOf(END);
if (start === -1 || end < start) {
  process.stderr.write(`chaos:report: ${DOC} has no ${START} … ${END} section\n`);
  process.exit(1);
}
writeFileSync(DOC, `${doc.slice(0, start + START.length)}\n${markdown}\n${doc.slice(end)}`);
process.stdout.write(`${markdown}\n`);
