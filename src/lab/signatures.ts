/**
 * The test signature database: ClamAV has no official signatures on this machine, so the
 * lab writes its own (RUNBOOK.md): EICAR anywhere in a file (.ndb) and clam.exe of the
 * clamav-testfiles package (.hdb); for yara, a rule matching EICAR anywhere (.yar). EICAR is assembled at run time from two halves, never
 * written literally in a source file.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { eicar } from '../corpus/eicar.js';

/** The 68-byte EICAR test file, assembled at run time (one definition: src/corpus/eicar.ts). */
export { eicar };

/** Name clamd reports for EICAR with the lab's database (unsigned databases get `.UNOFFICIAL`). */
export const EICAR_NDB_NAME = 'Eicar-Test-NDB.UNOFFICIAL';
/** Name clamd reports for clamav-testfiles' clam.exe with the lab's database. */
export const CLAM_EXE_HDB_NAME = 'ClamAV-Test-File.UNOFFICIAL';

/** The .ndb line that matches EICAR anywhere in a file. */
export function eicarNdbLine(): string {
  return `Eicar-Test-NDB:0:*:${eicar().toString('hex')}`;
}

/** The .hdb line for clam.exe (md5:size:name), which finds all files of clamav-testfiles. */
export const CLAM_EXE_HDB_LINE = 'aa15bcf478d165efd2065190eb473bcb:544:ClamAV-Test-File';

/** Source of a YARA rule `EICAR_Test_File` matching the EICAR bytes anywhere (as a hex string). */
export function eicarYaraRuleSource(ruleName = 'EICAR_Test_File'): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,127}$/.test(ruleName)) throw new TypeError(`not a YARA rule identifier: ${JSON.stringify(ruleName)}`);
  const hex = eicar().toString('hex').toUpperCase().replace(/(..)(?!$)/g, '$1 ');
  return `rule ${ruleName}\n{\n  meta:\n    description = "EICAR anti-virus test file, anywhere in the data"\n  strings:\n    $eicar = { ${hex} }\n  condition:\n    $eicar\n}\n`;
}

/** Write the default EICAR rule file to `path` (mode 0600) for the lab and tests (the yara adapter itself ships no rules); returns `path`. */
export async function writeEicarYaraRules(path: string, ruleName?: string): Promise<string> {
  await writeFile(path, eicarYaraRuleSource(ruleName), { mode: 0o600 });
  return path;
}

/**
 * Write the lab's signature database into `dir` (which must exist): `avbench.ndb` and
 * `avbench.hdb`, mode 0600. Returns the files written.
 */
export async function writeSignatureDb(dir: string): Promise<string[]> {
  const ndb = join(dir, 'avbench.ndb');
  const hdb = join(dir, 'avbench.hdb');
  await writeFile(ndb, `${eicarNdbLine()}\n`, { mode: 0o600 });
  await writeFile(hdb, `${CLAM_EXE_HDB_LINE}\n`, { mode: 0o600 });
  return [ndb, hdb];
}
