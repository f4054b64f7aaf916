/**
 * Builds the client package: tsc writes the declarations (the public types), esbuild the JavaScript as one ESM
 * bundle with an entry per export (`.` and `./internal`) that share their modules through chunks, so an error
 * class is one class whichever entry it is imported from.
 *
 * Why a bundle: installed as it was, the package took 17.9 MB, over the 15 MB a producer dependency may take
 * (issue 14); bullmq with its own dependencies (luxon via cron-parser 4.5 MB, msgpackr 2.3 MB) was about half of
 * it, for the few hundred kilobytes of it a producer runs. bullmq is bundled with those dependencies; ioredis and
 * zod stay real dependencies, because their types are in the public API (the connection, the contract's schemas).
 * The bundled bullmq is the exact version the workers run (a test checks it): its Lua scripts and key layout are
 * the contract between producer and worker.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const dist = join(here, 'dist');

// A build from before the bundle left one .js a source file; they must not linger beside the bundle.
rmSync(dist, { recursive: true, force: true });
execFileSync(
  process.execPath,
  [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.json', '--emitDeclarationOnly'],
  {
    cwd: here,
    stdio: 'inherit',
  },
);

const result = await build({
  absWorkingDir: here,
  entryPoints: ['src/index.ts', 'src/internal.ts'],
  outdir: 'dist',
  bundle: true,
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  format: 'esm',
  platform: 'node',
  target: 'node20.19',
  // bullmq has no `exports`: its ESM build (`module`) rather than the CommonJS one.
  mainFields: ['module', 'main'],
  external: [
    // Real dependencies, resolved in the producer's node_modules.
    'ioredis',
    'zod',
    // msgpackr's optional native encoder: used when the producer has it installed, JavaScript otherwise.
    'msgpackr-extract',
    // bullmq's optional drivers and backends, loaded only when asked for (a client passes an ioredis connection).
    'pg',
    'redis',
    '@valkey/valkey-glide',
    'bullmq-otel',
  ],
  // Bundled modules that clash are renamed (TransientError2): the errors' `name` must stay the class's.
  keepNames: true,
  // The CommonJS modules bundled (semver, cron-parser, luxon) call require() for Node's own modules, which an
  // ES module does not have.
  banner: {
    js: "import { createRequire as __clientCreateRequire } from 'node:module';\nconst require = __clientCreateRequire(import.meta.url);",
  },
  legalComments: 'eof',
  metafile: true,
  logLevel: 'warning',
});

writeFileSync(join(dist, 'THIRD-PARTY-NOTICES.md'), notices(result.metafile));

/** The licence of every package bundled, as their licences ask of a copy. */
function notices(metafile) {
  const packages = new Map();
  for (const input of Object.keys(metafile.inputs)) {
    const match = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (match) packages.set(match[1], undefined);
  }
  const sections = [...packages.keys()]
    .map((relative) => {
      const dir = join(here, relative);
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
      const licenceFile = readdirSync(dir).find((name) => /^licen[cs]e/i.test(name));
      if (!licenceFile || !existsSync(join(dir, licenceFile)))
        throw new Error(`${manifest.name}: no licence file to include in the notices`);
      const text = readFileSync(join(dir, licenceFile), 'utf8').trim();
      return {
        name: manifest.name,
        text: `## ${manifest.name} ${manifest.version} (${manifest.license})\n\n${text}\n`,
      };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
  return (
    '# Third-party notices\n\n' +
    'The JavaScript of this package bundles the following packages (dist/chunks); their licences follow.\n\n' +
    sections.map((section) => section.text).join('\n')
  );
}
