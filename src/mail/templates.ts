/**
 * Loads `templates/` once at start-up and renders emails from it. For every task folder and locale override the
 * layout, its partials and the task's files are joined into one source document, the HTML one is CSS-inlined by
 * juice, and all three are compiled; `render` then only runs the compiled functions.
 *
 * templates/
 *   layouts/base.html.hbs, layouts/base.text.hbs    `{{> body}}` marks where the task's html.hbs / text.hbs go
 *   partials/<name>.hbs                              `{{> <name>}}`, inlined into the source (juice must see them)
 *   <task>/subject.hbs, html.hbs, text.hbs           html.hbs defines `{{#*inline "preheader"}}…{{/inline}}`
 *   <task>/<locale>/<file>.hbs                       overrides one file for `de-AT`, or `de` and every `de-*`
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Handlebars from 'handlebars';
import type { Config } from '../config.js';
import type { RenderedEmail } from '../email-types.js';
import { TemplateError } from '../errors.js';
import { isLocale } from '@email-workers/client/internal';
import { inlineCss, type JuiceOptions } from './inline-css.js';
import { createTemplateHelpers, HELPER_NAMES } from './template-helpers.js';

export interface TemplateSettings {
  /** Absolute path of the templates folder (TEMPLATES_DIR). */
  dir: string;
  brand: Config['brand'];
  defaults: Config['defaults'];
}

export interface Templates {
  /**
   * Renders a task's email for a locale (exact match, then its language, then the default files). `data` gets
   * `brand` and `year` added. Throws TemplateError for an unknown template or a field the template needs but
   * `data` lacks.
   */
  render(template: string, data: Record<string, unknown>, locale: string): RenderedEmail;
  /** The task folders found, sorted. */
  readonly names: readonly string[];
}

type Environment = ReturnType<typeof Handlebars.create>;
type Compiled = HandlebarsTemplateDelegate<Record<string, unknown>>;

interface CompiledEmail {
  /** `send_welcome_email` or `send_welcome_email/de`, for error messages. */
  name: string;
  subject: Compiled;
  html: Compiled;
  text: Compiled;
}

/** One email's sources, composed and not yet inlined or compiled. */
interface Draft {
  name: string;
  subject: Source;
  html: Source;
  text: Source;
}

interface Source {
  /** Relative to the templates folder: what an error message names. */
  file: string;
  text: string;
}

const PARTS = ['subject', 'html', 'text'] as const;
type Part = (typeof PARTS)[number];
const PART_FILES = new Set(PARTS.map((part) => `${part}.hbs`));

const DEFAULT_LOCALE = '';
/** A load-time token, not data: the colour is configuration, and helpers must not write into style="". */
const BRAND_COLOR_TOKEN = /\[\[brand_color\]\]/g;
const PARTIAL_CALL = /\{\{>\s*([\w.-]+)\s*\}\}/g;
const PREHEADER = /\{\{#\*inline\s+["']preheader["']\s*\}\}/;
const UNESCAPED = /\{\{\{|\{\{&/;

const knownHelpers = Object.fromEntries(HELPER_NAMES.map((name) => [name, true]));
const HTML_OPTIONS: CompileOptions = { strict: true, knownHelpers, knownHelpersOnly: true };
// Subjects and text parts are not HTML: escaping would show "&amp;" to the reader.
const PLAIN_OPTIONS: CompileOptions = { ...HTML_OPTIONS, noEscape: true };

const JUICE_OPTIONS: JuiceOptions = {
  // Rules that cannot be inlined (media queries, dark mode) live in <style data-embed>, which juice leaves alone.
  preserveMediaQueries: true,
  removeStyleTags: true,
  applyWidthAttributes: true,
  applyAttributesTableElements: true,
};

export function loadTemplates(settings: TemplateSettings): Templates {
  const env = Handlebars.create();
  env.registerHelper(createTemplateHelpers(settings.defaults));
  const brandColor = checkedBrandColor(settings.brand.color);
  const read = (file: string): Source => readSource(env, settings.dir, file, brandColor);

  const layouts = { html: read('layouts/base.html.hbs'), text: read('layouts/base.text.hbs') };
  const partials = new Map(
    listEntries(settings.dir, 'partials')
      .filter((entry) => entry.endsWith('.hbs'))
      .map((entry) => [entry.slice(0, -'.hbs'.length), read(`partials/${entry}`)] as const),
  );

  // Every task and locale is composed first, so that one worker thread inlines the CSS of them all.
  const drafts: Array<{ task: string; locale: string; draft: Draft }> = [];
  for (const task of listEntries(settings.dir, '.').filter((entry) => isTaskFolder(settings.dir, entry))) {
    const locales = localeFolders(settings.dir, task);
    drafts.push({ task, locale: DEFAULT_LOCALE, draft: composeEmail(task, []) });
    for (const [key, folder] of locales) {
      const language = locales.get(languageOf(key));
      drafts.push({
        task,
        locale: key,
        draft: composeEmail(task, language && language !== folder ? [folder, language] : [folder]),
      });
    }
  }
  const inlined = inlineCss(
    drafts.map(({ draft }) => draft.html.text),
    JUICE_OPTIONS,
  );
  const emails = new Map<string, Map<string, CompiledEmail>>();
  drafts.forEach(({ task, locale, draft }, i) => {
    const result = inlined[i]!;
    if ('error' in result)
      throw new TemplateError(`${draft.html.file}: CSS inlining failed: ${result.error}`);
    const byLocale = emails.get(task) ?? new Map<string, CompiledEmail>();
    byLocale.set(locale, {
      name: draft.name,
      subject: compileNow(env, draft.subject, PLAIN_OPTIONS),
      html: compileNow(env, { file: draft.html.file, text: result.html }, HTML_OPTIONS),
      text: compileNow(env, draft.text, PLAIN_OPTIONS),
    });
    emails.set(task, byLocale);
  });

  /** `overrides`: the locale folders to look in before the task's own files, most specific first. */
  function composeEmail(task: string, overrides: string[]): Draft {
    const source = (part: Part): Source => {
      const folder = overrides.find((locale) => isFile(join(settings.dir, task, locale, `${part}.hbs`)));
      return read(folder ? `${task}/${folder}/${part}.hbs` : `${task}/${part}.hbs`);
    };
    const subject = source('subject');
    const html = source('html');
    const text = source('text');
    if (!PREHEADER.test(html.text)) {
      throw new TemplateError(`${html.file}: sets no preheader ({{#*inline "preheader"}}…{{/inline}})`);
    }
    return {
      name: overrides[0] ? `${task}/${overrides[0]}` : task,
      subject,
      html: compose(layouts.html, html, partials),
      text: compose(layouts.text, text, partials),
    };
  }

  const brand = Object.freeze({
    name: settings.brand.name,
    color: brandColor,
    logo_url: settings.brand.logoUrl,
    support_email: settings.brand.supportEmail,
    app_url: settings.brand.appUrl,
  });

  return Object.freeze({
    names: Object.freeze([...emails.keys()].sort()),
    render(template: string, data: Record<string, unknown>, locale: string): RenderedEmail {
      const byLocale = emails.get(template);
      if (!byLocale) throw new TemplateError(`no templates for ${template} in ${settings.dir}`);
      const email =
        byLocale.get(locale.toLowerCase()) ??
        byLocale.get(languageOf(locale)) ??
        byLocale.get(DEFAULT_LOCALE)!;
      const root = {
        locale,
        time_zone: settings.defaults.timeZone,
        ...data,
        brand,
        year: new Date().getUTCFullYear(),
      };
      try {
        return {
          subject: email.subject(root).replace(/\s+/g, ' ').trim(),
          html: email.html(root),
          text: tidyText(email.text(root)),
        };
      } catch (error) {
        throw new TemplateError(`${email.name}: ${messageOf(error)}`, { cause: error });
      }
    },
  });
}

function readSource(env: Environment, dir: string, file: string, brandColor: string): Source {
  let text: string;
  try {
    text = readFileSync(join(dir, file), 'utf8').replace(BRAND_COLOR_TOKEN, brandColor);
  } catch (error) {
    throw new TemplateError(`${file}: cannot be read from ${dir}: ${messageOf(error)}`, { cause: error });
  }
  if (UNESCAPED.test(text)) {
    throw new TemplateError(`${file}: uses {{{…}}} or {{&…}}; payload values must stay escaped`);
  }
  syntaxCheck(env, { file, text });
  return { file, text };
}

/** Handlebars.compile parses on first render; parsing here makes a broken file fail start-up instead. */
function syntaxCheck(env: Environment, source: Source): void {
  try {
    env.parse(source.text);
  } catch (error) {
    throw new TemplateError(`${source.file}: ${messageOf(error)}`, { cause: error });
  }
}

/** Replaces `{{> body}}` with the task's file and `{{> name}}` with partials/name.hbs, recursively. */
function compose(layout: Source, body: Source, partials: ReadonlyMap<string, Source>): Source {
  let placed = false;
  const expand = (source: Source, stack: readonly string[]): string =>
    source.text.replace(PARTIAL_CALL, (call, name: string) => {
      if (name === 'body') placed = true;
      const inner = name === 'body' ? body : partials.get(name);
      // Anything else is a runtime partial, such as the preheader a task's html.hbs defines inline.
      if (!inner) return call;
      if (stack.includes(inner.file)) {
        throw new TemplateError(`${inner.file}: includes itself (${[...stack, inner.file].join(' → ')})`);
      }
      // Files end in a newline; inlined mid-line, it would break the sentence around the call.
      return expand(inner, [...stack, inner.file]).replace(/\n$/, '');
    });
  const text = expand(layout, [layout.file]);
  if (!placed) throw new TemplateError(`${layout.file}: has no {{> body}} for ${body.file}`);
  return { file: `${body.file} in ${layout.file}`, text };
}

/**
 * Handlebars.compile defers code generation to the first render. Precompiling does it now, so start-up pays
 * for it once and render() only runs the result; the spec is Handlebars' own output for our own files.
 */
function compileNow(env: Environment, source: Source, options: CompileOptions): Compiled {
  try {
    const spec = env.precompile(source.text, options) as unknown as string;
    return env.template(new Function(`return ${spec};`)() as TemplateSpecification);
  } catch (error) {
    throw new TemplateError(`${source.file}: ${messageOf(error)}`, { cause: error });
  }
}

function checkedBrandColor(color: string): string {
  // Substituted into CSS and attributes unescaped, so only a plain hex colour may pass.
  if (!/^#(?:[0-9a-f]{3}){1,2}$/i.test(color)) {
    throw new TemplateError(`brand colour ${JSON.stringify(color)} is not a hex colour such as #4f46e5`);
  }
  return color;
}

function isTaskFolder(dir: string, entry: string): boolean {
  return (
    entry !== 'layouts' && entry !== 'partials' && !entry.startsWith('.') && isDirectory(join(dir, entry))
  );
}

/** Locale folders of a task by lower-case canonical tag (`de-de`), each with its name on disk. */
function localeFolders(dir: string, task: string): Map<string, string> {
  const folders = new Map<string, string>();
  for (const entry of listEntries(dir, task)) {
    const path = join(dir, task, entry);
    if (PART_FILES.has(entry) && !isDirectory(path)) continue;
    if (!isDirectory(path) || !isLocale(entry)) {
      throw new TemplateError(
        `${task}/${entry}: expected subject.hbs, html.hbs, text.hbs or a locale folder`,
      );
    }
    for (const file of listEntries(dir, `${task}/${entry}`)) {
      if (!PART_FILES.has(file)) {
        throw new TemplateError(`${task}/${entry}/${file}: expected subject.hbs, html.hbs or text.hbs`);
      }
    }
    folders.set(Intl.getCanonicalLocales(entry)[0]!.toLowerCase(), entry);
  }
  for (const file of PART_FILES) {
    if (!isFile(join(dir, task, file))) throw new TemplateError(`${task}/${file}: missing`);
  }
  return folders;
}

function languageOf(locale: string): string {
  return locale.split('-')[0]!.toLowerCase();
}

function listEntries(dir: string, folder: string): string[] {
  try {
    return readdirSync(join(dir, folder)).sort();
  } catch (error) {
    throw new TemplateError(`${folder}: cannot be listed in ${dir}: ${messageOf(error)}`, { cause: error });
  }
}

function isDirectory(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isDirectory() ?? false;
}

function isFile(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isFile() ?? false;
}

/** Optional lines leave blank runs behind in a plain-text part; readers see them, so they are squeezed. */
function tidyText(text: string): string {
  return `${text
    .replace(/[ \t]+$/gm, '')
    .replace(/\n{3,}/g, '\n\n')
    .trim()}\n`;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
