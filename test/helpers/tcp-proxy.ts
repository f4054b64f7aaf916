/**
 * A TCP proxy on a loopback port in front of a real server, that can fail the way networks and servers do,
 * without stopping the shared server behind it:
 * - `cut()`: every open connection reset, new ones accepted and closed at once (a server that crashed);
 * - `refuse()`: open connections reset, and the port closed, so connecting fails with ECONNREFUSED (a host
 *   whose server is gone);
 * - `hang()`: every connection, open or new, stays up but nothing passes either way (a partition, a frozen
 *   server: the client only learns from its own timeouts).
 * `restore()` ends any of them; connections held by `hang()` are reset then, as a partition's are.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface TcpProxy {
  port: number;
  /** Connections currently open through the proxy (client side). */
  readonly connections: number;
  /** Cuts open connections and closes new ones at once until `restore()`. */
  cut(): void;
  /** Cuts open connections and stops listening until `restore()`: connecting is refused. */
  refuse(): Promise<void>;
  /** Holds every connection, open or new, without passing a byte until `restore()`. */
  hang(): void;
  restore(): Promise<void>;
  close(): Promise<void>;
}

type Mode = 'open' | 'cut' | 'refuse' | 'hang';

export async function startTcpProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  const pairs = new Set<{ client: Socket; upstream: Socket | undefined }>();
  const held = new Set<Socket>();
  let mode: Mode = 'open';

  const destroyAll = () => {
    for (const { client, upstream } of pairs) {
      client.destroy();
      upstream?.destroy();
    }
    pairs.clear();
    for (const socket of held) socket.destroy();
    held.clear();
  };

  const server: Server = createServer((client) => {
    client.on('error', () => client.destroy());
    if (mode === 'cut' || mode === 'refuse') {
      client.destroy();
      return;
    }
    if (mode === 'hang') {
      held.add(client);
      client.on('close', () => held.delete(client));
      return;
    }
    const upstream = connect(targetPort, targetHost);
    const pair = { client, upstream };
    pairs.add(pair);
    const end = () => {
      client.destroy();
      upstream.destroy();
      pairs.delete(pair);
    };
    upstream.on('error', end);
    client.on('close', end);
    upstream.on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  const stopListening = () => new Promise<void>((resolve) => server.close(() => resolve()));

  await listen(0);
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    get connections() {
      return pairs.size + held.size;
    },
    cut() {
      mode = 'cut';
      destroyAll();
    },
    async refuse() {
      mode = 'refuse';
      const closed = stopListening();
      destroyAll();
      await closed;
    },
    hang() {
      mode = 'hang';
      // Stop the flow both ways; the sockets stay open, so neither side sees an error.
      for (const { client, upstream } of pairs) {
        client.unpipe();
        upstream?.unpipe();
        client.pause();
        upstream?.pause();
        held.add(client);
        if (upstream) held.add(upstream);
      }
      pairs.clear();
    },
    async restore() {
      const previous = mode;
      mode = 'open';
      for (const socket of held) socket.destroy();
      held.clear();
      if (previous === 'refuse') await listen(port);
    },
    async close() {
      mode = 'cut';
      destroyAll();
      if (server.listening) await stopListening();
    },
  };
}
