/**
 * No shell anywhere: a static check over src/, adapters/ and scripts/. Child processes go
 * through src/core/exec.ts alone (spawn or execa with an argument array, `shell: false`); nothing
 * else may import child_process or execa, pass `shell: true`, or call exec/execSync/
 * execFile/spawn. The patterns are checked against planted samples first, so the test
 * cannot pass by matching nothing.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const THE_DOOR = 'src/core/exec.ts';

/** What is forbidden outside the door. `.exec(` (RegExp) is fine; a bare `exec(` call is not. */
const FORBIDDEN: ReadonlyArray<{ what: string; re: RegExp }> = [
  { what: 'child_process import', re: /\bchild_process\b/ },
  { what: 'execa import', re: /from\s+['"]execa['"]|import\(\s*['"]execa['"]\s*\)/ },
  { what: 'shell: true', re: /\bshell\s*:\s*(true|['"`])/ },
  { what: 'exec( call', re: /(?<![.\w$])exec\s*\(/ },
  { what: 'execSync/execFile/execFileSync', re: /\b(execSync|execFile|execFileSync)\s*\(/ },
  { what: 'spawn( call', re: /(?<![.\w$])spawn(Sync)?\s*\(/ },
  { what: 'process.binding / dlopen', re: /process\.(binding|dlopen)\s*\(/ },
];

async function sourceFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await sourceFiles(p)));
    else if (/\.(ts|mts|js|mjs|cjs)$/.test(e.name)) out.push(p);
  }
  return out;
}

/** Strip comments so documentation may name what it forbids. */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
}

describe('no shell anywhere (static)', () => {
  it('the patterns catch what they are meant to catch, and leave RegExp.exec alone', () => {
    const bad = [
      "import { exec } from 'node:child_process';",
      "import { execa } from 'execa';",
      'execa(cmd, { shell: true })',
      'exec(`clamscan ${file}`)',
      'execSync("ls")',
      'spawn("sh", ["-c", x])',
      "const cp = await import('child_process')",
    ];
    for (const b of bad) expect(FORBIDDEN.some((f) => f.re.test(b)), b).toBe(true);
    const fine = ['const m = /x/.exec(s);', 'RE.exec(line)', 'shell: false', 'await run(file, args, { deadline })'];
    for (const f of fine) expect(FORBIDDEN.some((x) => x.re.test(f)), f).toBe(false);
  });

  it(`src/, adapters/ and scripts/ start processes only through ${THE_DOOR}`, async () => {
    const files = [...(await sourceFiles(join(ROOT, 'src'))), ...(await sourceFiles(join(ROOT, 'adapters'))), ...(await sourceFiles(join(ROOT, 'scripts')))];
    expect(files.length).toBeGreaterThan(50);
    const hits: string[] = [];
    for (const f of files) {
      const rel = relative(ROOT, f);
      if (rel === THE_DOOR) continue;
      const text = code(await readFile(f, 'utf8'));
      text.split('\n').forEach((line, i) => {
        for (const { what, re } of FORBIDDEN) if (re.test(line)) hits.push(`${rel}:${i + 1}: ${what}: ${line.trim()}`);
      });
    }
    expect(hits).toEqual([]);
  });

  it(`${THE_DOOR} itself runs with shell: false and an argument array`, async () => {
    const text = await readFile(join(ROOT, THE_DOOR), 'utf8');
    expect(text).toMatch(/shell:\s*false/);
    expect(text).not.toMatch(/shell:\s*true/);
    // Its starts: execa (spawnDaemon, spawnPiped) and node:child_process's spawn (run, through spawner()).
    const calls = text.match(/execa\(|spawner\(\)\(/g) ?? [];
    expect(calls.length).toBeGreaterThan(0);
    expect((text.match(/shell:\s*false/g) ?? []).length).toBe(calls.length);
  });
});
