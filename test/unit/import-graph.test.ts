/**
 * `src/index.ts` is what producers import: it must not bring in the delivery stack (nodemailer, pg, the SMTP
 * server, template compilation) nor any file of src/mail, src/db or the worker start-up. Checked on the static
 * import graph, and by importing it for real; `src/workers.ts`, which must load them, shows that both checks see.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { loadedModules, staticImportGraph, type ImportGraph } from '../helpers/import-graph.js';

const DELIVERY_PACKAGES = ['nodemailer', 'pg', 'smtp-server', 'handlebars', 'juice'];
const DELIVERY_FILE = /^src\/(mail|db)\/|^src\/queues\/start-workers\.ts$/;

const deliveryPackagesIn = (graph: ImportGraph) =>
  DELIVERY_PACKAGES.filter((name) => graph.packages.has(name));
const deliveryFilesIn = (graph: ImportGraph) => [...graph.files].filter((file) => DELIVERY_FILE.test(file));

describe('the static import graph of src/index.ts', () => {
  const graph = staticImportGraph('src/index.ts');

  it('reaches the client, the task registry and their packages', () => {
    expect([...graph.files]).toEqual(expect.arrayContaining(['src/client.ts', 'src/tasks/registry.ts']));
    expect([...graph.packages]).toEqual(expect.arrayContaining(['bullmq', 'zod']));
  });

  it('imports none of nodemailer, pg, smtp-server, handlebars or juice', () => {
    expect(deliveryPackagesIn(graph)).toEqual([]);
  });

  it('reaches no file of src/mail or src/db, nor src/queues/start-workers.ts', () => {
    expect(deliveryFilesIn(graph)).toEqual([]);
  });
});

describe('the static import graph of src/workers.ts', () => {
  it('reaches the delivery stack', () => {
    const graph = staticImportGraph('src/workers.ts');
    expect(deliveryPackagesIn(graph)).toEqual(expect.arrayContaining(['nodemailer', 'pg', 'handlebars']));
    expect(deliveryFilesIn(graph)).toEqual(
      expect.arrayContaining(['src/mail/transport.ts', 'src/db/users.ts']),
    );
  });
});

describe('importing src/index.ts in a fresh process', () => {
  let loaded: ImportGraph;
  beforeAll(() => {
    loaded = loadedModules('src/index.ts');
  });

  it('loads the client', () => {
    expect(loaded.files).toContain('src/client.ts');
    expect(loaded.packages).toContain('bullmq');
  });

  it('loads none of nodemailer, pg, smtp-server, handlebars or juice', () => {
    expect(deliveryPackagesIn(loaded)).toEqual([]);
  });

  it('loads no file of src/mail or src/db, nor src/queues/start-workers.ts', () => {
    expect(deliveryFilesIn(loaded)).toEqual([]);
  });
});

describe('importing src/workers.ts in a fresh process', () => {
  it('loads the delivery stack', () => {
    const loaded = loadedModules('src/workers.ts');
    expect(deliveryPackagesIn(loaded)).toEqual(['nodemailer', 'pg', 'handlebars']);
    expect(deliveryFilesIn(loaded)).toEqual(
      expect.arrayContaining(['src/mail/transport.ts', 'src/db/users.ts']),
    );
  });

  it('leaves the capture server and juice out: the first loads only without SMTP_HOST, the second in a thread', () => {
    const loaded = loadedModules('src/workers.ts');
    expect(loaded.packages.has('smtp-server')).toBe(false);
    expect(loaded.packages.has('juice')).toBe(false);
  });
});

describe('the bridges', () => {
  it('are reached by no entry point other than their commands', () => {
    for (const entry of ['src/index.ts', 'src/workers.ts', 'src/queues/start-workers.ts']) {
      expect([...staticImportGraph(entry).files].filter((file) => file.startsWith('src/bridges/'))).toEqual(
        [],
      );
    }
  });

  it('load neither the delivery stack nor, for a Redis broker, the AMQP client', () => {
    const loaded = loadedModules('src/bridges/celery-bridge.ts');
    expect(deliveryPackagesIn(loaded)).toEqual([]);
    expect(deliveryFilesIn(loaded)).toEqual([]);
    expect(loaded.packages.has('amqplib')).toBe(false);
  });
});
