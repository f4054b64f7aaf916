/**
 * The real monitor app in the test process on a random loopback port, on a test's queue prefix, plus a fetch
 * that records every response body (for the leak checks) and knows the logins.
 */
import { loadConfig, type Config } from '../../src/config.js';
import { startMonitor, type Monitor, type MonitorOptions } from '../../src/monitor/app.js';
import { capturedLogger, testEnv } from './workers.js';

export const OPERATOR = { user: 'ops', password: 'operator-secret-1' };
export const VIEWER = { user: 'watcher', password: 'viewer-secret-22' };
export const API_TOKEN = 'test-api-token-0123456789';

/** Logins and token, as the monitor's variables. */
export const monitorEnv = {
  MONITOR_USER: OPERATOR.user,
  MONITOR_PASSWORD: OPERATOR.password,
  MONITOR_VIEWER_USER: VIEWER.user,
  MONITOR_VIEWER_PASSWORD: VIEWER.password,
  API_TOKEN,
};

export const basic = (login: { user: string; password: string }) =>
  `Basic ${Buffer.from(`${login.user}:${login.password}`).toString('base64')}`;
export const bearer = (token = API_TOKEN) => `Bearer ${token}`;

export interface RecordedResponse {
  status: number;
  headers: Headers;
  text: string;
  json(): any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export interface TestMonitor {
  config: Config;
  monitor: Monitor;
  /** Every body the monitor answered through `request`, for leak checks. */
  bodies: string[];
  logs: Array<Record<string, unknown>>;
  request(path: string, init?: RequestInit & { auth?: string }): Promise<RecordedResponse>;
  close(): Promise<void>;
}

export async function startTestMonitor(
  prefix: string,
  env: Record<string, string | undefined> = {},
  options: MonitorOptions = {},
): Promise<TestMonitor> {
  const config = loadConfig(testEnv(prefix, env));
  const { logs, logger } = capturedLogger('debug');
  const monitor = await startMonitor(config, logger, { port: 0, host: '127.0.0.1', ...options });
  const bodies: string[] = [];
  return {
    config,
    monitor,
    bodies,
    logs,
    async request(path, init = {}) {
      const headers = new Headers(init.headers);
      if (init.auth) headers.set('authorization', init.auth);
      const response = await fetch(`${monitor.url}${path}`, { ...init, headers, redirect: 'manual' });
      const text = await response.text();
      bodies.push(text);
      return { status: response.status, headers: response.headers, text, json: () => JSON.parse(text) };
    },
    close: () => monitor.close(),
  };
}
