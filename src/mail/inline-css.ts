/**
 * Inlines CSS with juice in a worker thread that exits right after. juice and its HTML and CSS parsers are needed
 * once, at start-up; loaded in the worker's own thread they would stay in its memory for good (about 10 MB of the
 * worker's peak RSS in `npm run bench`). The call is synchronous, like the rest of template loading.
 */
import { createRequire } from 'node:module';
import { MessageChannel, Worker, receiveMessageOnPort } from 'node:worker_threads';
import type juice from 'juice';

export type JuiceOptions = juice.Options;
export type Inlined = { html: string } | { error: string };

const TIMEOUT_MS = 60_000;

// Plain CommonJS, evaluated in the worker thread: it needs no TypeScript loader, in tests or in production.
const SCRIPT = `
const { workerData } = require('node:worker_threads');
const { juicePath, documents, options, done, port } = workerData;
let results;
try {
  const juice = require(juicePath);
  results = documents.map((html) => {
    try {
      return { html: juice(html, options) };
    } catch (error) {
      return { error: String((error && error.message) || error) };
    }
  });
} catch (error) {
  results = documents.map(() => ({ error: 'juice could not be loaded: ' + String(error && error.message) }));
} finally {
  port.postMessage(results);
  Atomics.store(done, 0, 1);
  Atomics.notify(done, 0);
}
`;

export function inlineCss(documents: string[], options: JuiceOptions): Inlined[] {
  const done = new Int32Array(new SharedArrayBuffer(4));
  const { port1, port2 } = new MessageChannel();
  const worker = new Worker(SCRIPT, {
    eval: true,
    workerData: {
      juicePath: createRequire(import.meta.url).resolve('juice'),
      documents,
      options,
      done,
      port: port2,
    },
    transferList: [port2],
  });
  try {
    if (Atomics.wait(done, 0, 0, TIMEOUT_MS) === 'timed-out') {
      return documents.map(() => ({ error: `CSS inlining took longer than ${TIMEOUT_MS} ms` }));
    }
    const message = receiveMessageOnPort(port1) as { message: Inlined[] } | undefined;
    return message?.message ?? documents.map(() => ({ error: 'the CSS inlining thread sent no result' }));
  } finally {
    port1.close();
    void worker.terminate();
  }
}
