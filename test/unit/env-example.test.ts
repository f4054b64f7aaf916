import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseEnv } from 'node:util';
import { describe, it, expect } from 'vitest';
import { CONFIG_VARIABLES, loadConfig } from '../../src/config.js';

// The Docker section at the end documents what docker-compose.yml and entrypoint.sh read (test/docker checks it).
const lines = readFileSync(resolve(import.meta.dirname, '../../.env.example'), 'utf8')
  .split(/^# ── Docker /m)[0]!
  .split('\n');

/** `NAME=…` and `# NAME=…` at the start of a line: the variables the file documents. */
const ASSIGNMENT = /^(#\s?)?([A-Z][A-Z0-9_]*)=/;

/** Parsed as process.loadEnvFile would parse the file once copied to `.env`. */
const uncommented = parseEnv(lines.filter((line) => /^[A-Z]/.test(line)).join('\n'));
/** What the commented-out lines would set if they were all uncommented. */
const commented = parseEnv(
  lines
    .filter((line) => ASSIGNMENT.exec(line)?.[1])
    .map((line) => line.replace(/^#\s?/, ''))
    .join('\n'),
);

describe('.env.example', () => {
  it('lists exactly the variables that src/config.ts reads, each once', () => {
    const listed = lines.flatMap((line) => ASSIGNMENT.exec(line)?.[2] ?? []);
    expect(listed.sort()).toEqual([...CONFIG_VARIABLES].sort());
  });

  it('sets only values that loadConfig accepts', () => {
    expect(() => loadConfig({ ...uncommented, NODE_ENV: 'test' })).not.toThrow();
  });

  it('sets neither SMTP_HOST nor DATABASE_URL, so a copy runs with Redis alone', () => {
    const config = loadConfig({ ...uncommented, NODE_ENV: 'test' });
    expect({ smtp: config.smtp.host, database: config.database.url }).toEqual({
      smtp: undefined,
      database: undefined,
    });
  });

  it('writes each commented-out value so that .env parsing keeps it (a # must be quoted)', () => {
    const shown = lines.flatMap((line) => /^#\s?([A-Z][A-Z0-9_]*)=\S/.exec(line)?.[1] ?? []);
    expect(shown.filter((name) => !commented[name])).toEqual([]);
  });

  it('shows each commented-out variable with its default value', () => {
    expect(loadConfig({ ...commented, NODE_ENV: 'test' })).toEqual(loadConfig({ NODE_ENV: 'test' }));
  });
});
