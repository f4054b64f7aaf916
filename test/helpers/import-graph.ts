/**
 * Which modules an entry point brings in: statically, by reading the `import`/`export … from` statements of
 * the project's files, and for real, by importing it in a child process that records every module loaded.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const PROJECT_ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');

export interface ImportGraph {
  /** Project files reached, relative to the project root (`src/index.ts`). */
  files: Set<string>;
  /** Packages imported by those files (`bullmq`, `@scope/name`); `node:` built-ins left out. */
  packages: Set<string>;
}

// `import … from '…'`, `export … from '…'` and `import '…'`; `import type`/`export type` are erased at compile
// time and load nothing. `import('…')` with a literal loads when it runs: counted too.
const STATEMENT = /^\s*(?:import|export)(\s+type\b)?(?:[^;'"]*?\bfrom)?\s*['"]([^'"]+)['"]/gm;
const DYNAMIC = /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

/** Walks the static import graph from `entry` (a path relative to the project root). */
export function staticImportGraph(entry: string): ImportGraph {
  const graph: ImportGraph = { files: new Set(), packages: new Set() };
  const visit = (file: string) => {
    if (graph.files.has(file)) return;
    graph.files.add(file);
    const source = readFileSync(join(PROJECT_ROOT, file), 'utf8');
    const specifiers = [
      ...[...source.matchAll(STATEMENT)].filter((m) => !m[1]).map((m) => m[2]!),
      ...[...source.matchAll(DYNAMIC)].map((m) => m[1]!),
    ];
    for (const specifier of specifiers) {
      if (specifier.startsWith('.')) {
        visit(
          relative(PROJECT_ROOT, resolve(PROJECT_ROOT, dirname(file), specifier.replace(/\.js$/, '.ts'))),
        );
      } else if (!specifier.startsWith('node:')) {
        graph.packages.add(packageName(specifier));
      }
    }
  };
  visit(entry);
  return graph;
}

/** Imports `entry` in a fresh Node process (with tsx) and returns the same shape for what actually loaded. */
export function loadedModules(entry: string): ImportGraph {
  const dir = mkdtempSync(join(tmpdir(), 'email-workers-imports-'));
  const record = join(dir, 'urls.txt');
  try {
    // CommonJS packages loaded through require() bypass the ESM hooks; require.cache lists them.
    const script = `
      import { createRequire } from 'node:module';
      import { appendFileSync } from 'node:fs';
      import { pathToFileURL } from 'node:url';
      await import(${JSON.stringify(pathToFileURL(join(PROJECT_ROOT, entry)).href)});
      const cached = Object.keys(createRequire(import.meta.url).cache).map((p) => pathToFileURL(p).href);
      appendFileSync(process.env.RECORD_IMPORTS_FILE, cached.join('\\n') + '\\n');`;
    const run = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        '--import',
        './test/helpers/record-imports.mjs',
        '--input-type=module',
        '-e',
        script,
      ],
      { cwd: PROJECT_ROOT, env: { ...process.env, RECORD_IMPORTS_FILE: record }, encoding: 'utf8' },
    );
    if (run.status !== 0) throw new Error(`importing ${entry} failed (${run.status}): ${run.stderr}`);
    const graph: ImportGraph = { files: new Set(), packages: new Set() };
    for (const url of readFileSync(record, 'utf8').split('\n')) {
      if (!url.startsWith('file://')) continue;
      const path = relative(PROJECT_ROOT, fileURLToPath(url));
      // The innermost node_modules names the package itself, not the one that depends on it.
      const inPackage = [...path.matchAll(/(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)/g)].at(-1);
      if (inPackage) graph.packages.add(inPackage[1]!);
      else if (!path.startsWith('..')) graph.files.add(path);
    }
    return graph;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}
