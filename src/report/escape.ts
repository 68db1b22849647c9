/**
 * Escaping for everything the report writes. Every string that comes from a message or a
 * scanner (file names, categories, virus names, SMTP replies, milter actions, versions, the
 * command line) goes through one of these before it reaches HTML, a <script> block or
 * Markdown. The report must be safe to open for a hostile corpus.
 */

/**
 * Control characters (C0 except tab, LF, CR; and DEL) as their visible Unicode "control
 * pictures" (U+2400...), so a NUL or ESC in a file name is shown, not swallowed or
 * turned into a parse error.
 */
function visibleControls(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g, (c) => {
    const code = c.charCodeAt(0);
    return code === 0x7f ? '\u2421' : String.fromCharCode(0x2400 + code);
  });
}

const HTML_ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
  '`': '&#96;',
  '=': '&#61;',
};

/**
 * Escape a value for HTML text *and* for a quoted attribute value (one function for both):
 * `& < > " ' \` =` become character references, control characters become visible
 * control pictures. Numbers and booleans are stringified; null/undefined become "".
 */
export function escapeHtml(value: string | number | boolean | null | undefined): string {
  if (value === null || value === undefined) return '';
  return visibleControls(String(value)).replace(/[&<>"'`=]/g, (c) => HTML_ENTITIES[c] ?? c);
}

/**
 * JSON for a `<script type="application/json">` block: `<`, `>`, `&`, U+2028 and U+2029
 * are written as `\uXXXX` escapes, so no string inside can close the tag, open an HTML
 * comment, or break a JavaScript parser. `JSON.parse` of the block gives back `value`.
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

const MD_ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  '@': '&#64;',
  '#': '&#35;',
  '|': '&#124;',
};

/**
 * Escape a value for Markdown (GitHub-flavoured: job summaries, pull-request comments),
 * safe inside a table cell: HTML metacharacters, `|` and `@` (no mentions) and `#` (no
 * issue links) become character references; Markdown punctuation (backslash, backtick,
 * `* _ [ ] ( ) ! ~ { }`) is backslash-escaped; line breaks become spaces; control
 * characters become visible control pictures.
 */
export function escapeMarkdown(value: string | number | boolean | null | undefined): string {
  if (value === null || value === undefined) return '';
  return visibleControls(String(value))
    .replace(/\r\n|[\r\n\u2028\u2029]/g, ' ')
    .replace(/[\\`*_[\]()!~{}]/g, (c) => `\\${c}`)
    .replace(/[&<>"@#|]/g, (c) => MD_ENTITIES[c] ?? c);
}

/** HTML already escaped (made only by {@link html} or {@link rawHtml}). */
export class SafeHtml {
  /** @param value markup known to be safe */
  constructor(readonly value: string) {}
  /** The markup. */
  toString(): string {
    return this.value;
  }
}

/** Mark trusted markup (our own constants only — never data). */
export function rawHtml(markup: string): SafeHtml {
  return new SafeHtml(markup);
}

/** A value that may be interpolated into {@link html}. */
export type HtmlValue = SafeHtml | string | number | boolean | null | undefined | readonly HtmlValue[];

function interpolate(v: HtmlValue): string {
  if (v instanceof SafeHtml) return v.value;
  if (Array.isArray(v)) return v.map((x: HtmlValue) => interpolate(x)).join('');
  if (v === null || v === undefined || v === false) return '';
  return escapeHtml(v as string | number | boolean);
}

/**
 * Tagged template for markup: every interpolated value is escaped with {@link escapeHtml}
 * unless it is SafeHtml (the result of another `html` template); arrays are joined.
 * Use it for text and for quoted attribute values alike.
 *
 * @example html`<td title="${name}">${name}</td>`
 */
export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): SafeHtml {
  let out = strings[0] ?? '';
  for (let i = 0; i < values.length; i++) out += interpolate(values[i]) + (strings[i + 1] ?? '');
  return new SafeHtml(out);
}
