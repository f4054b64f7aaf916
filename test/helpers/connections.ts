/** Counting what a component left open on a Redis server of the test's own. */
import { Redis } from 'ioredis';

/** Connections to the Redis at `url` other than the one asking. */
export async function redisClientCount(url: string): Promise<number> {
  const probe = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    const self = await probe.client('ID');
    const list = (await probe.client('LIST')) as string;
    return list
      .split('\n')
      .filter(Boolean)
      .filter((line) => !line.startsWith(`id=${self} `)).length;
  } finally {
    probe.disconnect();
  }
}
