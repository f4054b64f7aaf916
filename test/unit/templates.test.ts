import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Handlebars from 'handlebars';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Config } from '../../src/config.js';
import { TemplateError } from '../../src/errors.js';
import { inlineCss } from '../../src/mail/inline-css.js';
import type * as InlineCssModule from '../../src/mail/inline-css.js';
import { loadTemplates } from '../../src/mail/templates.js';
import type { Templates } from '../../src/mail/templates.js';
import type { TaskDefinition } from '../../src/tasks/define-task.js';
import { renderSample } from '../../src/tasks/render-sample.js';
import type { SampleRendering } from '../../src/tasks/render-sample.js';
import { TASK_NAMES, tasks } from '../../src/tasks/registry.js';

// A pass-through spy, so a test can tell whether rendering inlines CSS again.
vi.mock('../../src/mail/inline-css.js', async (importOriginal) => {
  const actual = await importOriginal<typeof InlineCssModule>();
  return { ...actual, inlineCss: vi.fn(actual.inlineCss) };
});

const TEMPLATES_DIR = fileURLToPath(new URL('../../templates', import.meta.url));
const brand: Config['brand'] = {
  name: 'Event Platform',
  color: '#4f46e5',
  logoUrl: undefined,
  supportEmail: 'support@example.com',
  appUrl: 'https://app.example.com',
};
const defaults: Config['defaults'] = {
  locale: 'en-US',
  timeZone: 'UTC',
  currency: 'USD',
  appUrl: 'https://app.example.com',
};

const EMAIL_TASKS = TASK_NAMES.filter((name) => tasks[name].queue !== 'system');
type EmailTaskName = Exclude<(typeof TASK_NAMES)[number], 'health_check'>;

const MINIMAL_PAYLOADS: Record<EmailTaskName, unknown> = {
  send_otp_verification_email: { email: 'a@example.com', otp: '1234' },
  send_welcome_email: { email: 'a@example.com' },
  send_booking_confirmation: { user_id: 7, booking_data: {} },
  send_booking_cancellation: { user_id: 7, cancellation_data: {} },
  send_waitlist_notification: { user_id: 7, waitlist_data: {} },
  send_waitlist_joined: { user_id: 7, waitlist_data: {} },
  send_waitlist_cancellation: { user_id: 7, waitlist_data: {} },
};

const templates = loadTemplates({ dir: TEMPLATES_DIR, brand, defaults });

async function render(
  name: EmailTaskName,
  payload?: unknown,
  from: Templates = templates,
): Promise<SampleRendering> {
  const email = await renderSample(tasks[name] as TaskDefinition, from.render, defaults, payload);
  if (!email) throw new Error(`${name} sent nothing`);
  return email;
}

function copyOfTemplates(): string {
  const dir = mkdtempSync(join(tmpdir(), 'templates-'));
  cpSync(TEMPLATES_DIR, dir, { recursive: true });
  return dir;
}

const confirmation = tasks.send_booking_confirmation.sample;
const otp = tasks.send_otp_verification_email.sample;

afterEach(() => {
  vi.restoreAllMocks();
});

describe('templates', () => {
  it('has a template folder for every email task', () => {
    expect(templates.names).toEqual(expect.arrayContaining(EMAIL_TASKS));
  });

  it.each(EMAIL_TASKS)('renders the sample of %s with a subject, html and text', async (name) => {
    const email = await render(name as EmailTaskName);
    expect(email.subject.trim()).not.toBe('');
    expect(email.html).toMatch(/^<!doctype html>/);
    expect(email.text.trim()).not.toBe('');
  });

  it.each(Object.entries(MINIMAL_PAYLOADS))(
    'renders %s from its required fields only',
    async (name, payload) => {
      const email = await render(name as EmailTaskName, payload);
      expect(email.subject).not.toBe('');
    },
  );

  it('shows the booking event, id, tickets and total in both parts', async () => {
    const email = await render('send_booking_confirmation');
    for (const part of [email.html, email.text]) {
      expect(part).toContain('JSConf EU');
      expect(part).toContain('BK-10293');
      expect(part).toContain('2 tickets');
      expect(part).toContain('$149.50');
    }
  });

  it('shows the refund and when to expect it in both parts of a cancellation', async () => {
    const email = await render('send_booking_cancellation');
    for (const part of [email.html, email.text]) {
      expect(part).toContain('$149.50');
      expect(part).toContain('within 5 days');
    }
  });

  it('says no refund is due when a cancellation has no refund amount', async () => {
    const email = await render('send_booking_cancellation', MINIMAL_PAYLOADS.send_booking_cancellation);
    expect(email.html).toContain('No refund is due');
    expect(email.text).toContain('No refund is due');
  });

  it('shows the OTP code and its expiry in both parts but keeps the code out of the subject', async () => {
    const email = await render('send_otp_verification_email');
    for (const part of [email.html, email.text]) {
      expect(part).toContain('482913');
      expect(part).toContain('10 minutes');
    }
    expect(email.subject).not.toContain('482913');
  });

  it('shows the waitlist position in both parts', async () => {
    const email = await render('send_waitlist_joined');
    expect(email.html).toContain('#3');
    expect(email.text).toContain('#3');
  });

  it('puts the full claim link into the text part', async () => {
    const claimUrl = 'https://app.example.com/claim/abc?token=1&x=2';
    const email = await render('send_waitlist_notification', {
      user_id: 42,
      waitlist_data: { event_name: 'JSConf EU', claim_url: claimUrl },
    });
    expect(email.text).toContain(claimUrl);
    expect(email.html).toContain('href="https://app.example.com/claim/abc?token&#x3D;1&amp;x&#x3D;2"');
  });

  it('escapes payload values in the html', async () => {
    const email = await render('send_otp_verification_email', {
      ...otp,
      user_data: { full_name: '<script>alert(1)</script>' },
    });
    expect(email.html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(email.html).not.toContain('<script>');
  });

  it('leaves the subject and text unescaped, as they are not HTML', async () => {
    const email = await render('send_welcome_email', {
      email: 'a@example.com',
      user_data: { full_name: 'Ada & Bob' },
    });
    expect(email.subject).toBe('Welcome to Event Platform, Ada & Bob');
    expect(email.text).toContain('Hi Ada & Bob,');
  });

  it('collapses line breaks in the subject to single spaces', async () => {
    const email = await render('send_booking_confirmation', {
      user_id: 7,
      booking_data: { event_name: 'JSConf\n\n  EU' },
    });
    expect(email.subject).toBe('Booking confirmed: JSConf EU');
  });

  it('inlines the CSS and keeps media queries in a style block', async () => {
    const { html } = await render('send_booking_confirmation');
    expect(html).toMatch(/<table [^>]*class="wrapper"[^>]*style="[^"]*background-color: #f3f4f6/);
    expect(html).toContain('@media (prefers-color-scheme: dark)');
    expect(html).toContain('<!--[if mso]>');
  });

  it('sets the hidden preheader from the task template', async () => {
    const { html } = await render('send_booking_confirmation');
    expect(html).toMatch(
      /<div class="preheader" style="display: none;[^"]*">2 tickets for JSConf EU on May 1, 2026/,
    );
  });

  it('uses the brand colour from the settings', async () => {
    const teal = loadTemplates({ dir: TEMPLATES_DIR, brand: { ...brand, color: '#0f766e' }, defaults });
    const { html } = await render('send_welcome_email', undefined, teal);
    expect(html).toMatch(/class="button-cell"[^>]*bgcolor="#0f766e"/);
    expect(html).not.toContain('brand_color');
  });

  it('rejects a brand colour that could break out of CSS', () => {
    expect(() =>
      loadTemplates({ dir: TEMPLATES_DIR, brand: { ...brand, color: 'red;}</style>' }, defaults }),
    ).toThrow(TemplateError);
  });

  it('uses the German override for locale de', async () => {
    const email = await render('send_otp_verification_email', { ...otp, locale: 'de' });
    expect(email.subject).toBe('Ihr Bestätigungscode für Event Platform');
    expect(email.html).toContain('lang="de"');
    expect(email.text).toContain('10 Minuten');
  });

  it('uses the German override for de-AT, by its language', async () => {
    const email = await render('send_otp_verification_email', { ...otp, locale: 'de-AT' });
    expect(email.subject).toBe('Ihr Bestätigungscode für Event Platform');
  });

  it('falls back to the default files for a locale without an override', async () => {
    const email = await render('send_otp_verification_email', { ...otp, locale: 'fr' });
    expect(email.subject).toBe('Your verification code for Event Platform');
  });

  it('formats money in the payload locale and currency', async () => {
    const email = await render('send_booking_confirmation', {
      ...confirmation,
      locale: 'de-DE',
      booking_data: { ...confirmation.booking_data, currency: 'EUR' },
    });
    expect(email.html).toContain('149,50\u00a0€');
    expect(email.text).toContain('149,50\u00a0€');
  });

  it('formats dates in the payload time zone', async () => {
    const email = await render('send_booking_confirmation', {
      ...confirmation,
      time_zone: 'Asia/Tokyo',
      booking_data: { ...confirmation.booking_data, booking_date: '2026-04-02T23:30:00Z' },
    });
    expect(email.text).toContain('Booked on:   April 3, 2026');
    expect(email.text).toContain('May 2, 2026 at 3:00 AM GMT+9');
  });

  it('keeps a bare date on its calendar day in any time zone', async () => {
    const email = await render('send_booking_confirmation', {
      ...confirmation,
      time_zone: 'America/Los_Angeles',
      booking_data: { ...confirmation.booking_data, booking_date: '2026-04-02' },
    });
    expect(email.text).toContain('Booked on:   April 2, 2026');
  });

  it('shows a date that does not parse as it was given', async () => {
    const email = await render('send_booking_confirmation', {
      ...confirmation,
      booking_data: { ...confirmation.booking_data, booking_date: 'next Friday' },
    });
    expect(email.text).toContain('Booked on:   next Friday');
  });

  it('throws a TemplateError naming the file with a syntax error', () => {
    const dir = copyOfTemplates();
    try {
      writeFileSync(
        join(dir, 'send_welcome_email', 'html.hbs'),
        '{{#*inline "preheader"}}x{{/inline}}{{#if name}}',
      );
      expect(() => loadTemplates({ dir, brand, defaults })).toThrow(
        expect.objectContaining({
          code: 'TEMPLATE_INVALID',
          message: expect.stringContaining('send_welcome_email/html.hbs'),
        }),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('throws a TemplateError naming an html file that sets no preheader', () => {
    const dir = copyOfTemplates();
    try {
      writeFileSync(join(dir, 'send_waitlist_joined', 'html.hbs'), '<p>{{waitlist_data.event_name}}</p>');
      expect(() => loadTemplates({ dir, brand, defaults })).toThrow(
        /send_waitlist_joined\/html\.hbs: sets no preheader/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses triple-stash output, which would not be escaped', () => {
    const dir = copyOfTemplates();
    try {
      writeFileSync(join(dir, 'send_welcome_email', 'text.hbs'), '{{{name}}}');
      expect(() => loadTemplates({ dir, brand, defaults })).toThrow(/send_welcome_email\/text\.hbs/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('throws a TemplateError for a template it does not have', () => {
    expect(() => templates.render('send_postcard', {}, 'en-US')).toThrow(TemplateError);
  });

  it('renders without reading files, inlining CSS or compiling', async () => {
    const dir = copyOfTemplates();
    const create = vi.spyOn(Handlebars, 'create');
    const loaded = loadTemplates({ dir, brand, defaults });
    // Gone from disk: a render that still read a file would fail.
    rmSync(dir, { recursive: true, force: true });
    const env = create.mock.results[0]!.value as typeof Handlebars;
    const compiling = [
      vi.spyOn(env, 'compile'),
      vi.spyOn(env, 'precompile'),
      vi.spyOn(env, 'parse'),
      vi.mocked(inlineCss),
    ];
    for (const spy of compiling) spy.mockClear();

    for (let i = 0; i < 1000; i++) await render('send_booking_confirmation', undefined, loaded);

    for (const spy of compiling) expect(spy).not.toHaveBeenCalled();
  });

  it('builds each date and number formatter once', async () => {
    await render('send_booking_confirmation');
    const dateFormat = vi.spyOn(Intl, 'DateTimeFormat');
    const numberFormat = vi.spyOn(Intl, 'NumberFormat');

    for (let i = 0; i < 100; i++) await render('send_booking_confirmation');

    expect(dateFormat).not.toHaveBeenCalled();
    expect(numberFormat).not.toHaveBeenCalled();
  });
});
