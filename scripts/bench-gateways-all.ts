/**
 * Every speed ratio of issue 15's "Done when" in one process and one run: one lab clamd, one
 * smtp-sink, one load (Postfix's `smtp-source -s 8 -l 1K`, a new connection per message and
 * kept-open sessions, `--repeats` rounds alternating ours and the reference after an untimed
 * warm-up each), then one summary table.
 *
 *   part `smtp`   (scripts/bench-gateways.ts measureSmtpGateways): our `serve smtp` vs Haraka +
 *                 haraka-plugin-clamd, both relaying to the sink; target ≥ 2x. Exim is left
 *                 out (no target; `npm run bench:gateways` measures it).
 *   part `milter` (scripts/bench-gateways-milter.ts measureMilterGateways): Postfix + our
 *                 `serve milter` vs Postfix + rspamd (identical private Postfix instances,
 *                 relaying to the sink), each milter over loopback TCP and over a unix socket
 *                 (`--milter-listen`), Postfix alone as the ceiling; target ≥ 1.5x.
 *   part `amavis` (scripts/bench-amavis.ts measureAmavis): after the queue, Postfix whose
 *                 content_filter is our `serve smtp` vs amavisd-new; before it, Postfix with
 *                 our `serve milter` vs amavisd-milter (→ the same amavisd); targets ≥ 2x and
 *                 ≥ 3x; msg/s DELIVERED (smtp-source's start to the last arrival at the sink).
 *
 * One clamd (MaxThreads `--clamd-threads`) serves every part: Haraka, amavisd and our proxy
 * reach it over its unix socket, both milters of the `milter` part over its loopback TCP port
 * (rspamd's workers run as _rspamd and cannot reach the lab's private socket folder; ours
 * uses TCP there too, as bench-gateways-milter does). One smtp-sink, dumping every message to
 * tmpfs, is every part's next hop. Each part checks every message as its script does: the
 * `smtp` and `amavis` parts count the arrivals at the sink (each Message-Id once), the
 * `milter` part finds one ` status=sent ` per message in each Postfix's maillog (the sink's
 * dumps are then cleared). Each part stops what it started before the next starts; clamd and
 * the sink stay up to the end.
 *
 * The ratio of a row is the median of the per-round ratios (ours ÷ reference of the same
 * round), every round listed (scripts/lib/ratios.ts). Each part also prints its own detail
 * lines (CPU per message of each process, as its script does), and the load average at its
 * start and end.
 *
 * At the defaults a run took 313 s on the 2-core lab machine at load 1–5 (233 s at
 * --repeats 3); heavier load stretches it, the amavisd-new part most.
 *
 *   node dist/scripts/bench-gateways-all.js [--parts smtp,milter,amavis] [--shapes per-conn,kept]
 *        [--sessions 8] [--size 1K] [--messages 500] [--repeats 5] [--milter-listen inet,unix]
 *        [--filter-procs 8] [--clamd-threads 16]
 */
import { findHaraka } from '../src/lab/haraka.js';
import { checkAmavisCanRun, measureAmavis, TARGET as AMAVIS_TARGET, type Place } from './bench-amavis.js';
import { measureMilterGateways } from './bench-gateways-milter.js';
import { measureSmtpGateways, TARGET as SMTP_TARGET } from './bench-gateways.js';
import { opt, readOptions, sizeBytes } from './lib/args.js';
import { hostLine, loadAverage } from './lib/host.js';
import { judge, summaryTable, type Comparison } from './lib/ratios.js';
import { inWorkspace, runMain, wallTime } from './lib/run.js';
import { privateDist, startClamdAndSink } from './lib/sut.js';

const PARTS = ['smtp', 'milter', 'amavis'] as const;
type Part = (typeof PARTS)[number];
const SHAPES = ['per-conn', 'kept'] as const;
type Shape = (typeof SHAPES)[number];
/** Issue 15's target for our milter against rspamd behind the same Postfix. */
const MILTER_TARGET = 1.5;
const SHAPE_NAME: Record<Shape, string> = { 'per-conn': 'per connection', kept: 'kept-open' };
const MILTER_SHAPE: Record<Shape, 'per-connection' | 'kept-open'> = { 'per-conn': 'per-connection', kept: 'kept-open' };

function parseArgs(argv: string[]) {
  return readOptions('bench-gateways-all', argv, {
    parts: opt.list(PARTS, PARTS),
    shapes: opt.list(SHAPES, SHAPES),
    sessions: opt.whole(8),
    size: opt.custom('1K', (raw, flag) => sizeBytes(raw, flag)),
    messages: opt.whole(500),
    repeats: opt.whole(5),
    'milter-listen': opt.list(['inet', 'unix'], ['inet', 'unix'] as const),
    'filter-procs': opt.whole(8),
    'clamd-threads': opt.whole(16),
  });
}

const out = (s: string): void => {
  process.stdout.write(s);
};
/** The 1-minute figure of `loadAverage()`'s `1.2 3.4 5.6`. */
const load1Of = (s: string): number => Number(s.split(' ')[0]);

/** How long a part took and the load around it. */
interface PartNote {
  part: Part;
  what: string;
  loadStart: string;
  loadEnd: string;
  seconds: number;
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  const started = performance.now();
  const haraka = a.parts.includes('smtp') ? await findHaraka() : undefined;
  if (a.parts.includes('smtp') && haraka === undefined) throw new Error('Haraka is not installed (npm ci installs the devDependencies Haraka and haraka-plugin-clamd)');
  if (a.parts.includes('amavis')) await checkAmavisCanRun();
  if (process.getuid?.() !== 0) throw new Error('bench-gateways-all runs private Postfix instances, rspamd and amavisd: run it as root');
  const host = hostLine();
  out(
    `# bench-gateways-all — ${new Date().toISOString()}\n` +
      `${host} (other work on the machine shares its cores)\n` +
      `one lab clamd (MaxThreads ${a.clamdThreads}; unix socket, and loopback TCP for the milter part), one smtp-sink (dumping to tmpfs) for every part\n` +
      `load: smtp-source [-d] -s ${a.sessions} -m ${a.messages} -l ${a.size}, shapes ${a.shapes.join(', ')}; ${a.repeats} rounds alternating ours and the reference after one untimed warm-up each; parts ${a.parts.join(', ')}\n` +
      (haraka === undefined ? '' : `Haraka ${haraka.version} + haraka-plugin-clamd ${haraka.clamdPluginVersion}\n`),
  );
  const rows: Comparison[] = [];
  const notes: PartNote[] = [];
  await inWorkspace(
    'bench-gateways-all',
    async (w) => {
      const { base, stops } = w;
      const { clamd, sink } = await startClamdAndSink(w, a.clamdThreads, { clamdInWorkspace: true });
      const app = await privateDist(base);
      out(`clamd pid ${clamd.pid} (${clamd.socket}, TCP 127.0.0.1:${clamd.port}); smtp-sink pid ${sink.pid} (127.0.0.1:${sink.port})\n`);

      const part = async (p: Part, what: string, body: () => Promise<void>): Promise<void> => {
        const loadStart = loadAverage();
        const t0 = performance.now();
        out(`\n# part ${p}: ${what} — load average ${loadStart}\n`);
        await body();
        const loadEnd = loadAverage();
        notes.push({ part: p, what, loadStart, loadEnd, seconds: (performance.now() - t0) / 1000 });
        out(`# part ${p} done in ${((performance.now() - t0) / 1000).toFixed(0)} s — load average ${loadEnd}\n`);
      };

      if (a.parts.includes('smtp')) {
        await part('smtp', 'avbench serve smtp vs Haraka + clamd', async () => {
          const { cells } = await measureSmtpGateways({ base, stops, clamd, sink, app }, { shapes: a.shapes, sessionsList: [a.sessions], sizes: [a.size], messages: a.messages, repeats: a.repeats, logs: false, clamdThreads: a.clamdThreads });
          for (const c of cells) {
            const all = [...c.runs.ours, ...c.runs.haraka];
            rows.push({
              comparison: 'serve smtp vs Haraka + clamd',
              shape: SHAPE_NAME[c.shape],
              figure: 'accepted',
              ours: c.runs.ours.map((f) => f.msgsPerSec),
              theirs: c.runs.haraka.map((f) => f.msgsPerSec),
              target: SMTP_TARGET,
              problems: all.filter((f) => !f.ok).length,
              load1: all.map((f) => Number(f.load1)),
            });
          }
        });
      }

      if (a.parts.includes('milter')) {
        await part('milter', 'Postfix + avbench serve milter vs Postfix + rspamd', async () => {
          const shapes = await measureMilterGateways(
            { work: base, stops, clamd, sink, app },
            { sessions: a.sessions, size: a.size, messages: a.messages, runs: a.repeats, listen: a.milterListen, shapes: a.shapes.map((s) => MILTER_SHAPE[s]) },
          );
          for (const s of shapes) {
            for (const how of a.milterListen) {
              const ours = s.rows[`ours-${how}`] ?? [];
              const theirs = s.rows[`rspamd-${how}`] ?? [];
              const all = [...ours, ...theirs];
              rows.push({
                comparison: `serve milter vs rspamd, behind the same Postfix (${how === 'inet' ? 'TCP' : 'unix socket'})`,
                shape: s.shape === 'per-connection' ? SHAPE_NAME['per-conn'] : SHAPE_NAME.kept,
                figure: 'accepted',
                ours: ours.map((r) => r.msgsPerSec),
                theirs: theirs.map((r) => r.msgsPerSec),
                target: MILTER_TARGET,
                problems: all.filter((r) => !r.ok).length,
                load1: all.map((r) => load1Of(r.load)),
              });
            }
          }
        });
      }

      if (a.parts.includes('amavis')) {
        await part('amavis', 'amavisd-new after the queue and amavisd-milter before it vs avbench serve smtp / serve milter', async () => {
          const places: Place[] = ['after-queue', 'milter'];
          const { cells } = await measureAmavis({ base, stops, clamd, sink, app }, { places, shapes: a.shapes, sessions: a.sessions, sizes: [a.size], messages: a.messages, repeats: a.repeats, filterProcs: a.filterProcs });
          for (const c of cells) {
            const all = [...c.runs.ours, ...c.runs['amavisd-new']];
            rows.push({
              comparison: c.place === 'milter' ? 'serve milter vs amavisd-milter, behind the same Postfix' : 'Postfix + serve smtp vs Postfix + amavisd-new, content filter after the queue',
              shape: SHAPE_NAME[c.shape],
              figure: 'delivered',
              ours: c.runs.ours.map((f) => f.deliveredPerSec),
              theirs: c.runs['amavisd-new'].map((f) => f.deliveredPerSec),
              target: AMAVIS_TARGET[c.place],
              problems: all.filter((f) => !f.ok).length,
              load1: all.map((f) => Number(f.load1)),
            });
          }
        });
      }
    },
    { stopOnSignal: true },
  );

  const judged = rows.map(judge);
  out(
    `\n# summary — one run of every ratio (${wallTime(started)})\n` +
      `${host} (at the start)\n` +
      `smtp-source [-d] -s ${a.sessions} -m ${a.messages} -l ${a.size}, ${a.repeats} rounds; one clamd, one smtp-sink; ratio = median of the per-round ratios (rounds listed); "delivered" = msg/s to the last arrival at the sink, else smtp-source's own time\n\n` +
      summaryTable(judged) +
      '\n' +
      notes.map((n) => `part ${n.part} (${n.what}): ${n.seconds.toFixed(0)} s, load average ${n.loadStart} at its start, ${n.loadEnd} at its end\n`).join('') +
      `targets met: ${judged.filter((r) => r.met).length} of ${judged.length}; load average now ${loadAverage()}\n`,
  );
}

runMain('bench-gateways-all', main, import.meta.url);
