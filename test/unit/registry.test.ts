import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, it, expect } from 'vitest';
import { QUEUE_NAMES } from '../../src/tasks/define-task.js';
import { findTask, tasks, TASK_NAMES } from '../../src/tasks/registry.js';

const ROOT = resolve(import.meta.dirname, '../..');
const TASKS_DIR = resolve(ROOT, 'src/tasks');

/** The eight tasks the old Celery service registered, which producers send by name. */
const CONTRACT = [
  'send_otp_verification_email',
  'send_welcome_email',
  'send_booking_confirmation',
  'send_booking_cancellation',
  'send_waitlist_notification',
  'send_waitlist_joined',
  'send_waitlist_cancellation',
  'health_check',
];

const definitions = Object.values(tasks);
const emailTasks = definitions.filter((task) => task.queue !== 'system').map((task) => task.name);

describe('the task registry', () => {
  it('holds tasks with unique names', () => {
    const names = definitions.map((task) => task.name);
    expect(new Set(names).size).toBe(names.length);
  });

  it('holds exactly the eight tasks of the contract', () => {
    expect([...TASK_NAMES].sort()).toEqual([...CONTRACT].sort());
  });

  it('routes each task to its queue', () => {
    const byQueue = Object.fromEntries(
      QUEUE_NAMES.map((queue) => [
        queue,
        definitions
          .filter((task) => task.queue === queue)
          .map((task) => task.name)
          .sort(),
      ]),
    );
    expect(byQueue).toEqual({
      auth_emails: ['send_otp_verification_email', 'send_welcome_email'],
      booking_emails: ['send_booking_cancellation', 'send_booking_confirmation'],
      waitlist_emails: ['send_waitlist_cancellation', 'send_waitlist_joined', 'send_waitlist_notification'],
      system: ['health_check'],
    });
  });

  it.each(CONTRACT)('defines %s in src/tasks/%s.ts', async (name) => {
    const file = resolve(TASKS_DIR, `${name}.ts`);
    expect(existsSync(file), `src/tasks/${name}.ts`).toBe(true);
    const module = (await import(pathToFileURL(file).href)) as { default: { name: string } };
    expect(module.default.name).toBe(name);
  });

  it.each(emailTasks)('has templates/%s/ with subject.hbs, html.hbs and text.hbs', (name) => {
    const folder = resolve(ROOT, 'templates', name);
    const present = existsSync(folder) ? readdirSync(folder) : [];
    expect(present).toEqual(expect.arrayContaining(['subject.hbs', 'html.hbs', 'text.hbs']));
  });

  it.each(definitions.map((task) => [task.name, task] as const))(
    '%s accepts its own sample',
    (_name, task) => {
      expect(task.schema.safeParse(task.sample).error).toBeUndefined();
    },
  );

  it('sends OTP emails before welcome emails on the shared queue', () => {
    // Unset is no answer: BullMQ runs jobs without a priority before every prioritized one.
    const { priority: otp = NaN } = tasks.send_otp_verification_email;
    const { priority: welcome = NaN } = tasks.send_welcome_email;
    expect(otp).toBeLessThan(welcome);
  });
});

describe('findTask', () => {
  it('finds a task by its name', () => {
    expect(findTask('send_welcome_email')).toBe(tasks.send_welcome_email);
  });

  it('finds a task by the old service qualified name', () => {
    expect(findTask('email_workers.tasks.send_welcome_email')).toBe(tasks.send_welcome_email);
  });

  it('returns undefined for an unknown name', () => {
    expect(findTask('send_invoice')).toBeUndefined();
  });

  it('returns undefined for an unknown qualified name', () => {
    expect(findTask('email_workers.tasks.send_invoice')).toBeUndefined();
  });

  it('returns undefined for names inherited from Object.prototype', () => {
    expect(findTask('constructor')).toBeUndefined();
  });
});

describe('the contract modules (src/tasks/**)', () => {
  const FORBIDDEN_PACKAGES = ['bullmq', 'ioredis', 'nodemailer', 'pg'];
  const FORBIDDEN_DIRS = ['src/mail', 'src/db', 'src/queues'];

  /** Every module specifier of `from '…'`, `import '…'` and `import('…')`, type-only imports included. */
  function specifiers(file: string): string[] {
    const source = readFileSync(file, 'utf8');
    const patterns = [
      /\bfrom\s+['"]([^'"]+)['"]/g,
      /\bimport\s+['"]([^'"]+)['"]/g,
      /\bimport\s*\(\s*['"]([^'"]+)['"]/g,
    ];
    return patterns.flatMap((pattern) => [...source.matchAll(pattern)].map((match) => match[1]!));
  }

  function forbidden(file: string, specifier: string): boolean {
    if (specifier.startsWith('.')) {
      const target = relative(ROOT, resolve(dirname(file), specifier));
      return FORBIDDEN_DIRS.some((dir) => target === dir || target.startsWith(`${dir}/`));
    }
    return FORBIDDEN_PACKAGES.some((name) => specifier === name || specifier.startsWith(`${name}/`));
  }

  function sourceFiles(dir: string): string[] {
    return readdirSync(dir, { withFileTypes: true, recursive: true })
      .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
      .map((entry) => resolve(entry.parentPath, entry.name));
  }

  it('are found', () => {
    expect(sourceFiles(TASKS_DIR).length).toBeGreaterThanOrEqual(CONTRACT.length);
  });

  it('import nothing from bullmq, ioredis, nodemailer, pg, src/mail, src/db or src/queues', () => {
    const offending = sourceFiles(TASKS_DIR).flatMap((file) =>
      specifiers(file)
        .filter((specifier) => forbidden(file, specifier))
        .map((specifier) => `${relative(ROOT, file)} imports ${specifier}`),
    );
    expect(offending).toEqual([]);
  });

  it('import only modules that themselves import none of those', () => {
    const seen = new Set<string>();
    const offending: string[] = [];
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const specifier of specifiers(file)) {
        if (forbidden(file, specifier)) offending.push(`${relative(ROOT, file)} imports ${specifier}`);
        else if (specifier.startsWith('.')) visit(resolve(dirname(file), specifier).replace(/\.js$/, '.ts'));
      }
    };
    sourceFiles(TASKS_DIR).forEach(visit);
    expect(offending).toEqual([]);
    expect(seen.size).toBeGreaterThan(sourceFiles(TASKS_DIR).length);
  });
});
