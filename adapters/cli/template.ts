/**
 * Argument templates of command-line scanners. Only generated paths (the private temp
 * folder and its `u0001.bin` files) are ever substituted — never anything from the
 * message, such as an attachment's filename — and the result is an argument array for
 * src/core/exec.ts (no shell, so no quoting, globbing or expansion happens).
 */

/** How a template names its targets. */
export type TemplateMode = 'folder' | 'file';

/** `file` when the template uses `{f}` (one process per unit), else `folder` (one per batch). */
export function templateMode(args: readonly string[]): TemplateMode {
  return args.some((a) => a.includes('{f}')) ? 'file' : 'folder';
}

/**
 * Expand a template. `{}/*` as a whole argument becomes every file path (several
 * arguments); `{}` inside an argument becomes `folder`; `{f}` inside an argument becomes
 * `file` (required when the template uses it).
 */
export function expandArgs(args: readonly string[], target: { folder: string; files: readonly string[]; file?: string }): string[] {
  const out: string[] = [];
  for (const a of args) {
    if (a === '{}/*') {
      out.push(...target.files);
      continue;
    }
    if (a.includes('{f}') && target.file === undefined) throw new TypeError('template uses {f} but no file was given');
    out.push(a.split('{f}').join(target.file ?? '').split('{}').join(target.folder));
  }
  return out;
}
