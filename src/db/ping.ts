/** One connection and one `SELECT 1`: whether a PostgreSQL answers now, for a wait at start-up. */
import pg from 'pg';

/** Resolves when the database at `url` answers within `timeoutMs`; throws what the server or network said. */
export async function pingDatabase(url: string, timeoutMs: number): Promise<void> {
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: timeoutMs,
    query_timeout: timeoutMs,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
  } finally {
    await client.end().catch(() => undefined);
  }
}
