import { z } from 'zod';
import { tasks } from './registry.js';

/** `[file name, JSON text]` for each task: the payload a producer may send, as JSON Schema. */
export function jsonSchemaFiles(): Array<[string, string]> {
  return Object.values(tasks).map((task) => {
    const schema = {
      $id: `https://email-workers/schemas/${task.name}.json`,
      title: task.name,
      description: `Payload of ${task.name} on queue ${task.queue}`,
      ...z.toJSONSchema(task.schema, { io: 'input', unrepresentable: 'any' }),
    };
    return [`${task.name}.json`, `${JSON.stringify(schema, null, 2)}\n`];
  });
}
