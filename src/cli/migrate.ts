/** `start-workers migrate`: applies pending ledger migrations (replicas running it at once are serialised). */
import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { migrate } from '../db/migrate.js';
import { openDatabase } from '../db/open-database.js';
import { UsageError } from './usage-error.js';

export async function run(argv: string[]): Promise<number> {
  parseArgs({ args: argv, options: {}, strict: true });
  const config = loadConfig();
  const database = await openDatabase(config);
  if (!database) throw new UsageError('migrate: no database configured; set DATABASE_URL');
  try {
    const applied = await migrate(database.pool, config.ledger.schema);
    process.stdout.write(
      applied.length
        ? `applied ${applied.join(', ')} to schema ${config.ledger.schema}\n`
        : `schema ${config.ledger.schema} is up to date\n`,
    );
    return 0;
  } finally {
    await database.close();
  }
}
