/**
 * Presets for vendor command-line scanners: their documented arguments, exit codes and
 * report lines, as amavisd-new's scanner table records them (../shared/REFERENCE.md,
 * "Command-line scanners"). The binaries cannot be installed here; the mechanism is
 * tested against fake fixtures in test/fixtures/cli-scanners/ that print each format.
 * Override `command` (e.g. `/opt/sophos-av/bin/savscan`) or `args` in the config file:
 * `{ "type": "cli", "preset": "sophos-savscan", "command": "/opt/sophos-av/bin/savscan" }`.
 * Each preset's `identify` is the vendor name its version output must show: a program of
 * the same name that is not the scanner (NVIDIA's CUDA `nvcc` for Norman's `nvcc`) makes
 * the preset "not this program", never available.
 */
import type { CliScannerEntry } from './entry.js';

function preset(key: string, e: Omit<CliScannerEntry, 'name' | 'preset'>): CliScannerEntry {
  return Object.freeze({ name: key, preset: key, ...e });
}

/** Every vendor preset, by key (also the scanner name it is selectable by). */
export const CLI_PRESETS: Readonly<Record<string, CliScannerEntry>> = Object.freeze({
  'clamav-clamscan': preset('clamav-clamscan', {
    description: 'ClamAV clamscan (prefer the clamscan adapter; add -d DIR to args for a private database)',
    command: 'clamscan',
    args: ['--stdout', '--no-summary', '-r', '{}'],
    clean: [0],
    infected: [1],
    error: [2],
    // "PATH: NAME FOUND"
    virusName: '^.*?: (.+) FOUND$',
    versionArgs: ['--version'],
    versionRegex: 'ClamAV (\\S+)',
    identify: 'ClamAV',
  }),
  'sophos-savscan': preset('sophos-savscan', {
    description: 'Sophos Anti-Virus for Linux, savscan (exit 0 clean, 2 some errors, 3 virus found)',
    command: 'savscan',
    args: ['-nb', '-f', '-all', '-rec', '-ss', '-sc', '-archive', '-mime', '{}'],
    // amavisd-new counts 2 as clean; Sophos documents it as "some files could not be
    // scanned" — here that is an error, never a silent clean.
    clean: [0],
    error: [2],
    infected: 'Virus .*? found',
    // ">>> Virus 'EICAR-AV-Test' found in file /path"
    virusName: ">>> Virus(?: fragment)? '?(.+?)'? found",
    versionArgs: ['-v'],
    versionRegex: 'Product version\\s*:\\s*(\\S+)',
    identify: 'Sophos',
  }),
  'avira-avscan': preset('avira-avscan', {
    description: 'Avira AntiVir / Avira for Unix, avscan',
    command: 'avscan',
    args: ['-s', '--batch', '--alert-action=none', '{}'],
    clean: [0, 4],
    infected: '(ALERT|FUND):',
    // "ALERT: [Eicar-Test-Signature] /path <<< Contains code of the Eicar-Test-Signature virus"
    virusName: '(?:ALERT|FUND): \\[([^\\]]+)\\]',
    versionArgs: ['--version'],
    versionRegex: 'avscan[^\\n]*?(\\d+(?:\\.\\d+)+)',
    identify: 'Avira|AntiVir',
  }),
  'eset-esets_cli': preset('eset-esets_cli', {
    description: 'ESET NOD32 for Linux file servers, esets_cli (exit 1 threat, 2 threat left, 3 could not check all)',
    command: 'esets_cli',
    args: ['--subdir', '{}'],
    clean: [0],
    infected: [1, 2, 3],
    // 'name="/path", threat="Eicar test file", action="", info=""' (clean files: threat="is OK")
    virusName: 'threat="(?!is OK")([^"]+)"',
    versionArgs: ['--version'],
    versionRegex: 'esets_cli\\s+(?:version\\s+)?(\\S+)',
    identify: 'ESET',
  }),
  'kaspersky-kavscanner': preset('kaspersky-kavscanner', {
    description: 'Kaspersky Anti-Virus for Linux (AVP 5), kavscanner; slow to start (load signatures)',
    command: 'kavscanner',
    args: ['-i0', '-xn', '-xp', '-mn', '-R', '-ePASBME', '{}/*'],
    clean: [0, 10, 15],
    infected: [5, 20, 21, 25],
    // "/path infected: EICAR-Test-File" / "suspicion: ..."
    virusName: '(?:infected|suspicion|warning): (.+)$',
    timeoutMs: 120_000,
    identify: 'Kaspersky',
    versionArgs: ['-v'],
  }),
  'fsecure-fsav': preset('fsecure-fsav', {
    description: 'F-Secure Anti-Virus for Linux, fsav (exit 3 virus, 4 riskware, 6 at least one not scanned, 8 suspected)',
    command: 'fsav',
    args: ['--virus-action1=report', '--archive=yes', '{}'],
    clean: [0],
    infected: [3, 4, 6, 8],
    // "/path: Infected: EICAR_Test_File [FSE]"
    virusName: ': (?:Infected|Suspected|Riskware): (.+?)(?: \\[[^\\]]*\\])?$',
    versionArgs: ['--version'],
    versionRegex: 'F-Secure[^\\n]*?(\\d+(?:\\.\\d+)+)',
    identify: 'F-Secure',
  }),
  'fprot-fpscan': preset('fprot-fpscan', {
    description: 'F-PROT Antivirus for Unix 6, fpscan (exit bits: 1 virus, 2 suspicious, 8 not scanned, 64 aborted)',
    command: 'fpscan',
    args: ['--report', '--mount', '--adware', '{}'],
    clean: [0, 8, 64],
    infected: [1, 2, 3, 5, 6, 7, 9, 10, 11, 13, 14, 15],
    // "[Found virus] <EICAR_Test_File (exact, not disinfectable)> /path"
    virusName: '^\\[Found\\s+[^\\]]*\\]\\s+<([^ \\t(>]+)',
    versionArgs: ['--version'],
    versionRegex: 'F-PROT[^\\n]*?(\\d+(?:\\.\\d+)+)',
    identify: 'F-PROT',
  }),
  'mcafee-uvscan': preset('mcafee-uvscan', {
    description: 'McAfee VirusScan Command Line for Unix, uvscan (exit 13 virus found)',
    command: 'uvscan',
    args: ['--secure', '-rv', '--mime', '--summary', '--noboot', '{}'],
    clean: [0],
    infected: [13],
    // "/path ... Found: EICAR test file NOT a virus." / "Found the W32/X virus !!!" / "Found virus or variant X"
    virusName: 'Found(?: the (.+?) (?:virus|trojan)| (?:virus|trojan) or variant ([^ ]+)|: (.+?) NOT a virus)',
    versionArgs: ['--version'],
    versionRegex: 'Virus Scan for \\S+ v?(\\S+)',
    identify: 'McAfee|Virus ?Scan for',
  }),
  drweb: preset('drweb', {
    description: 'Dr.Web for Unix, drweb (exit 1/9/33 known virus, 0 and 32 clean)',
    command: 'drweb',
    args: ['-path={}', '-al', '-go', '-ot', '-cn', '-upn', '-ok-'],
    clean: [0, 32],
    infected: [1, 9, 33],
    // "/path infected with EICAR Test File (NOT a Virus!)"
    virusName: ' (?:infected|is suspicious)(?: with| by)?(?: virus)? (.+?)$',
    versionArgs: ['-v'],
    versionRegex: 'Dr\\.Web[^\\n]*?(\\d+(?:\\.\\d+)+)',
    identify: 'Dr\\.?Web',
  }),
  'avast-avastcmd': preset('avast-avastcmd', {
    description: 'avast! for Linux, avastcmd (exit 1 infected)',
    command: 'avastcmd',
    args: ['-a', '-i', '-n', '-t=A', '{}'],
    clean: [0],
    infected: [1],
    // "/path\t[infected by: EICAR Test-NOT virus!!!]"
    virusName: '\\[infected by:\\s*([^\\]]+)\\]',
    versionArgs: ['-V'],
    versionRegex: '(\\d+(?:\\.\\d+)+)',
    identify: 'avast',
  }),
  'bitdefender-bdscan': preset('bitdefender-bdscan', {
    description: 'BitDefender Antivirus Scanner for Unices, bdscan (decided by its summary, not its exit code)',
    command: 'bdscan',
    args: ['--action=ignore', '--no-list', '{}'],
    clean: 'Infected files\\s*:\\s*0+(?!\\d)',
    infected: 'Infected files\\s*:\\s*0*[1-9]',
    // "/path  infected: EICAR-Test-File (not a virus)"
    virusName: '\\s(?:infected|suspected): (.+)$',
    versionArgs: ['--version'],
    versionRegex: 'BitDefender[^\\n]*?(\\d+(?:\\.\\d+)+)',
    identify: 'BitDefender',
  }),
  'trendmicro-vscan': preset('trendmicro-vscan', {
    description: 'Trend Micro FileScanner / ServerProtect, vscan (exit = number of viruses found)',
    command: 'vscan',
    args: ['-za', '-a', '{}'],
    clean: [0],
    infected: 'Found virus',
    // "*** Found virus EICAR_TEST_FILE in file /path"
    virusName: 'Found virus (.+?) in file',
    identify: 'Trend ?Micro',
    versionArgs: ['-v'],
  }),
  ikarus: preset('ikarus', {
    description: 'IKARUS anti.virus for Linux (exit 40 infected)',
    command: 'ikarus',
    args: ['{}'],
    clean: [0],
    infected: [40],
    // "/path - Signature 'EICAR-Test-File' found"
    virusName: "Signature '?(.+?)'? found",
    versionArgs: ['--version'],
    versionRegex: '(\\d+(?:\\.\\d+)+)',
    identify: 'IKARUS',
  }),
  'norman-nvcc': preset('norman-nvcc', {
    description: 'Norman Virus Control for Linux, nvcc (exit 1/2/14 infected, 10/11 clean with notes)',
    command: 'nvcc',
    args: ['-c', '-l:0', '-s', '-u', '{}'],
    clean: [0, 10, 11],
    infected: [1, 2, 14],
    // "Possible virus in '/path' -> 'EICAR_Test_file_not_a_virus!'"
    virusName: "[Vv]irus in .* -> '(.+)'",
    identify: 'Norman',
    versionArgs: ['-v'],
  }),
  'symantec-savsecls': preset('symantec-savsecls', {
    description: 'Symantec Scan Engine command-line client, savsecls (talks to the engine on loopback)',
    command: 'savsecls',
    args: ['-server', '127.0.0.1:7777', '-mode', 'scanrepair', '{}'],
    clean: [0],
    infected: '^Infected',
    // "Infected  /path" then "Virus Name: EICAR Test String" (or "Info: ...") on the next line
    virusName: '^(?:Info|Virus Name):\\s+(.+)$',
    identify: 'Symantec',
    versionArgs: ['-version'],
  }),
});
