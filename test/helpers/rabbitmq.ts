/** The machine's RabbitMQ (guest/guest on 127.0.0.1:5672), and the removal of a test's queues from it. */
import { connect } from 'amqplib';

export const TEST_AMQP_URL = process.env.TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672//';

/** Deletes the queues and the direct exchanges of the same names that Celery declares beside them. */
export async function deleteAmqpQueues(queues: string[]): Promise<void> {
  const connection = await connect(TEST_AMQP_URL);
  try {
    const channel = await connection.createChannel();
    for (const queue of queues) {
      await channel.deleteQueue(queue);
      await channel.deleteExchange(queue);
    }
  } finally {
    await connection.close();
  }
}

/** Messages waiting in a queue (not counting those delivered and unacknowledged). */
export async function amqpQueueDepth(queue: string): Promise<number> {
  const connection = await connect(TEST_AMQP_URL);
  try {
    const channel = await connection.createChannel();
    return (await channel.checkQueue(queue)).messageCount;
  } finally {
    await connection.close();
  }
}
