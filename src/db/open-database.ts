/**
 * The database the service uses: DATABASE_URL (or DB_*) when configured; outside production without one, the
 * embedded PostgreSQL; otherwise none.
 */
import type { Config } from '../config.js';
import { startEmbeddedDatabase, type EmbeddedDatabase } from './embedded.js';
import { createPool, type Pool, type PoolOptions } from './pool.js';

export interface Database {
  pool: Pool;
  /** Set when the database is the embedded one. */
  embedded: EmbeddedDatabase | undefined;
  close(): Promise<void>;
}

export async function openDatabase(config: Config, options: PoolOptions = {}): Promise<Database | undefined> {
  const embedded =
    !config.database.url && config.database.embedded
      ? await startEmbeddedDatabase(config.database.embedded)
      : undefined;
  const url = config.database.url ?? embedded?.url;
  if (!url) return undefined;
  const pool = createPool({ ...config.database, url }, options);
  return {
    pool,
    embedded,
    async close() {
      await pool.end();
      await embedded?.stop();
    },
  };
}
