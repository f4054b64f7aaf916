/**
 * A real HTTP server on a random loopback port that records the JSON bodies POSTed to it, for the alert webhook.
 * `status` decides, per request (numbered from 1), what it answers.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface WebhookReceiver {
  url: string;
  /** Every body received, parsed, with the status it was answered with. */
  posts: Array<{ status: number; body: Record<string, unknown> }>;
  status: (n: number) => number;
  close(): Promise<void>;
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const receiver: WebhookReceiver = {
    url: '',
    posts: [],
    status: () => 200,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  const server = createServer((request, response) => {
    let text = '';
    request.on('data', (chunk: Buffer) => (text += chunk.toString()));
    request.on('end', () => {
      const status = receiver.status(receiver.posts.length + 1);
      receiver.posts.push({ status, body: JSON.parse(text) as Record<string, unknown> });
      response.writeHead(status).end(status < 300 ? 'ok' : 'unavailable');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/alerts`;
  return receiver;
}
