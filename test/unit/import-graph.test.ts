/**
 * `src/index.ts` is what producers import (the client package, re-exported): it must not bring in the delivery
 * stack (nodemailer, pg, the SMTP server, template compilation) nor any file of src/mail, src/db or the worker
 * start-up. Checked on the static
 * import graph, and by importing it for real; `src/workers.ts`, which must load them, shows that both checks see.
 * A worker process never loads the monitor (express, Bull Board, zod-openapi): only `src/cli/monitor.ts` does.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadedModules, PROJECT_ROOT, staticImportGraph, type ImportGraph } from '../helpers/import-graph.js';

const DELIVERY_PACKAGES = ['nodemailer', 'pg', 'smtp-server', 'handlebars', 'juice'];
const DELIVERY_FILE = /^src\/(mail|db)\/|^src\/queues\/start-workers\.ts$/;

/** The client build's chunks loaded that hold bullmq (esbuild names each file it inlines in a comment). */
const bundledBullmqIn = (graph: ImportGraph) =>
  [...graph.files].filter(
    (file) =>
      file.startsWith('packages/client/dist/') &&
      readFileSync(resolve(PROJECT_ROOT, file), 'utf8').includes('node_modules/bullmq/'),
  );
const deliveryPackagesIn = (graph: ImportGraph) =>
  DELIVERY_PACKAGES.filter((name) => graph.packages.has(name));
const deliveryFilesIn = (graph: ImportGraph) => [...graph.files].filter((file) => DELIVERY_FILE.test(file));

describe('the static import graph of src/index.ts', () => {
  const graph = staticImportGraph('src/index.ts');

  it('reaches the client package, the task registry and their packages', () => {
    expect([...graph.files]).toEqual(expect.arrayContaining(['src/tasks/registry.ts']));
    expect([...graph.packages]).toEqual(expect.arrayContaining(['@email-workers/client']));
  });

  it('imports none of nodemailer, pg, smtp-server, handlebars or juice', () => {
    expect(deliveryPackagesIn(graph)).toEqual([]);
  });

  it('reaches no file of src/mail or src/db, nor src/queues/start-workers.ts', () => {
    expect(deliveryFilesIn(graph)).toEqual([]);
  });
});

describe('the static import graph of the client package', () => {
  it('imports bullmq (on demand, and bundled into its build), ioredis and zod, and nothing of the service', () => {
    const graph = staticImportGraph('packages/client/src/index.ts');
    expect([...graph.packages].sort()).toEqual(['bullmq', 'ioredis', 'zod']);
    expect([...graph.files].filter((file) => !file.startsWith('packages/client/src/'))).toEqual([]);
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

  it('loads the client package, and bullmq not until a client talks to Redis (then its bundled copy)', () => {
    expect(loaded.files).toContain('packages/client/dist/index.js');
    expect(loaded.packages).not.toContain('bullmq');
    expect(bundledBullmqIn(loaded)).toEqual([]);
  });

  it('loads none of nodemailer, pg, smtp-server, handlebars or juice', () => {
    expect(deliveryPackagesIn(loaded)).toEqual([]);
  });

  it('loads no file of src/mail or src/db, nor src/queues/start-workers.ts', () => {
    expect(deliveryFilesIn(loaded)).toEqual([]);
  });
});

describe('importing src/workers.ts in a fresh process', () => {
  it('loads the delivery stack, and one bullmq: its own, not the copy bundled in the client package', () => {
    const loaded = loadedModules('src/workers.ts');
    expect(loaded.packages).toContain('bullmq');
    expect(loaded.files).toContain('packages/client/dist/internal.js');
    expect(bundledBullmqIn(loaded)).toEqual([]);
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

const MONITOR_PACKAGES = [
  'express',
  '@bull-board/api',
  '@bull-board/express',
  '@bull-board/ui',
  'zod-openapi',
  'mailparser',
];
const MONITOR_FILE = /^src\/monitor\/|^src\/cli\/monitor\.ts$/;
const monitorPackagesIn = (graph: ImportGraph) => MONITOR_PACKAGES.filter((name) => graph.packages.has(name));
const monitorFilesIn = (graph: ImportGraph) => [...graph.files].filter((file) => MONITOR_FILE.test(file));

describe('the worker side and the monitor', () => {
  it('src/workers.ts and the worker start-up reach no monitor file and no monitor package, statically', () => {
    for (const entry of ['src/workers.ts', 'src/queues/start-workers.ts']) {
      const graph = staticImportGraph(entry);
      expect(monitorPackagesIn(graph), entry).toEqual([]);
      expect(monitorFilesIn(graph), entry).toEqual([]);
    }
  });

  it('the CLI reaches the monitor only through the --monitor command, which loads it all', () => {
    const monitor = staticImportGraph('src/cli/monitor.ts');
    expect(monitorPackagesIn(monitor)).toEqual(
      expect.arrayContaining(['express', '@bull-board/api', '@bull-board/express', 'zod-openapi']),
    );
    expect(monitorFilesIn(monitor)).toEqual(
      expect.arrayContaining(['src/monitor/app.ts', 'src/monitor/board.ts']),
    );
    const runWorkers = readFileSync(resolve(PROJECT_ROOT, 'src/cli/run-workers.ts'), 'utf8');
    expect(runWorkers).not.toMatch(/^import .*monitor/m);
    expect(runWorkers).toMatch(/await import\('\.\/monitor\.js'\)/);
  });

  it('importing src/workers.ts in a fresh process loads neither express nor Bull Board', () => {
    const loaded = loadedModules('src/workers.ts');
    expect(monitorPackagesIn(loaded)).toEqual([]);
    expect(monitorFilesIn(loaded)).toEqual([]);
  });

  it('importing the monitor for real does load them (the check sees)', () => {
    const loaded = loadedModules('src/monitor/app.ts');
    expect(monitorPackagesIn(loaded)).toEqual(
      expect.arrayContaining(['express', '@bull-board/api', '@bull-board/express']),
    );
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
