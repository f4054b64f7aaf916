import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';

function problemsOf(env: Record<string, string>): readonly string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('loadConfig accepted the environment');
}

describe('health and monitor variables', () => {
  it('default to HEALTH_PORT 8004 (0 under NODE_ENV=test), stats every 60 s, the monitor on 5555, open', () => {
    const config = loadConfig({});
    expect(config.health).toEqual({ port: 8004, statsIntervalS: 60 });
    expect(loadConfig({ NODE_ENV: 'test' }).health.port).toBe(0);
    expect(config.monitor).toEqual({
      port: 5555,
      basePath: '',
      operator: undefined,
      viewer: undefined,
      apiToken: undefined,
    });
  });

  it('read the logins, the token and a base path without its trailing slash', () => {
    const config = loadConfig({
      HEALTH_PORT: '0',
      MONITOR_BASE_PATH: '/ops/monitor/',
      MONITOR_USER: 'ops',
      MONITOR_PASSWORD: 'pw',
      MONITOR_VIEWER_USER: 'view',
      MONITOR_VIEWER_PASSWORD: 'pw2',
      API_TOKEN: '0123456789abcdef',
    });
    expect(config.health.port).toBe(0);
    expect(config.monitor).toMatchObject({
      basePath: '/ops/monitor',
      operator: { user: 'ops', password: 'pw' },
      viewer: { user: 'view', password: 'pw2' },
      apiToken: '0123456789abcdef',
    });
  });

  it('report one line per bad variable', () => {
    const problems = problemsOf({
      HEALTH_PORT: 'eighty',
      MONITOR_BASE_PATH: 'no-slash',
      MONITOR_USER: 'ops',
      MONITOR_VIEWER_PASSWORD: 'x',
      API_TOKEN: 'short',
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^HEALTH_PORT: /),
        expect.stringMatching(/^MONITOR_BASE_PATH: /),
        'MONITOR_PASSWORD: required with MONITOR_USER',
        'MONITOR_VIEWER_USER: required with MONITOR_VIEWER_PASSWORD',
        expect.stringMatching(/^API_TOKEN: expected at least 16/),
      ]),
    );
  });

  it('refuse a viewer without an operator, or with the operator’s name', () => {
    expect(problemsOf({ MONITOR_VIEWER_USER: 'v', MONITOR_VIEWER_PASSWORD: 'p' })).toContain(
      'MONITOR_USER: required when MONITOR_VIEWER_USER is set (a viewer needs an operator)',
    );
    expect(
      problemsOf({
        MONITOR_USER: 'a',
        MONITOR_PASSWORD: 'p',
        MONITOR_VIEWER_USER: 'a',
        MONITOR_VIEWER_PASSWORD: 'q',
      }),
    ).toContain('MONITOR_VIEWER_USER: must differ from MONITOR_USER');
  });
});
