/**
 * Our milter checked by a client that is not ours: OpenDKIM's miltertest (libmilter's
 * MTA side, scripted in Lua) against our server on loopback, with the embedded scanner.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createEmbeddedAdapter } from '../../../adapters/index.js';
import { run } from '../../../src/core/exec.js';
import { eicar } from '../../../src/lab/signatures.js';
import { createMilterServer, type MilterMessageEvent, type MilterServer } from '../../../src/modes/milter/server.js';
import { describeReal } from '../../helpers/real.js';

/** A Lua string literal for any text (decimal escapes, so no quoting issues). */
function lua(s: string): string {
  return `"${[...Buffer.from(s, 'latin1')].map((b) => (b >= 0x20 && b < 0x7f && b !== 0x22 && b !== 0x5c ? String.fromCharCode(b) : `\\${b}`)).join('')}"`;
}

function script(sock: string, body: string, expectations: string): string {
  return `
local function fail(msg) mt.echo("FAIL: " .. msg); error(msg) end
local conn = mt.connect(${lua(sock)}, 5, 0.2)
if conn == nil then fail("mt.connect() failed") end
if mt.negotiate(conn, nil, nil, nil) ~= nil then fail("negotiate failed") end
if not mt.test_action(conn, SMFIF_ADDHDRS) then fail("ADDHDRS not requested") end
if mt.test_option(conn, SMFIP_NOBODY) or mt.test_option(conn, SMFIP_NOHDRS) then fail("milter must want headers and body") end
if mt.conninfo(conn, "client.example", "192.0.2.7") ~= nil then fail("conninfo failed") end
mt.macro(conn, SMFIC_MAIL, "i", "MT0001")
if mt.mailfrom(conn, "<sender@example.org>") ~= nil then fail("mailfrom failed") end
-- Steps the milter asked to skip (SMFIP_NO*) are not sent, as an MTA would not.
if not mt.test_option(conn, SMFIP_NORCPT) then
  if mt.rcptto(conn, "<rcpt@example.org>") ~= nil then fail("rcptto failed") end
end
if mt.header(conn, "From", "sender@example.org") ~= nil then fail("header failed") end
if mt.header(conn, "Subject", "miltertest") ~= nil then fail("header failed") end
if mt.header(conn, "MIME-Version", "1.0") ~= nil then fail("header failed") end
if mt.header(conn, "Content-Type", "multipart/mixed; boundary=\\"XX\\"") ~= nil then fail("header failed") end
if not mt.test_option(conn, SMFIP_NOEOH) then
  if mt.eoh(conn) ~= nil then fail("eoh failed") end
end
if mt.bodystring(conn, ${lua(body)}) ~= nil then fail("bodystring failed") end
if mt.eom(conn) ~= nil then fail("eom failed") end
local reply = mt.getreply(conn)
mt.echo("reply=" .. string.char(reply))
${expectations}
mt.disconnect(conn)
mt.echo("ok")
`;
}

const CLEAN_BODY = '--XX\r\nContent-Type: text/plain\r\n\r\nhello from miltertest\r\n--XX--\r\n';
const EICAR_BODY = `--XX\r\nContent-Type: application/octet-stream; name="eicar.com"\r\nContent-Transfer-Encoding: base64\r\n\r\n${eicar().toString('base64')}\r\n--XX--\r\n`;

await describeReal("our milter against OpenDKIM's miltertest", ['miltertest'], () => {
  let dir = '';
  let server: MilterServer;
  const events: MilterMessageEvent[] = [];
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'avbench-miltertest-'));
    server = createMilterServer({ scanners: [createEmbeddedAdapter()], listen: 'inet:0@127.0.0.1', onMessage: (e) => events.push(e) });
    await server.listen();
  });
  afterAll(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function miltertest(name: string, text: string) {
    const file = join(dir, `${name}.lua`);
    await writeFile(file, text, { mode: 0o600 });
    return run('miltertest', ['-s', file], { deadline: Date.now() + 30_000 });
  }

  it('clean: SMFIR_ACCEPT or CONTINUE, with X-Virus-Scanned and X-Virus-Status: Clean added', async () => {
    const r = await miltertest(
      'clean',
      script(
        server.address,
        CLEAN_BODY,
        `if reply ~= SMFIR_ACCEPT and reply ~= SMFIR_CONTINUE then fail("unexpected reply " .. string.char(reply)) end
-- SMFIP_HDR_LEADSPC is negotiated: added values carry the space that follows the colon.
if not mt.eom_check(conn, MT_HDRADD, "X-Virus-Scanned", " avbench (embedded)") then fail("no X-Virus-Scanned header") end
if not mt.eom_check(conn, MT_HDRADD, "X-Virus-Status", " Clean") then fail("no X-Virus-Status header") end`,
      ),
    );
    expect(r.ok && r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toContain('ok');
    expect(events.at(-1)).toMatchObject({ queueId: 'MT0001', from: '<sender@example.org>', client: expect.stringMatching(/^192\.0\.2\.7:\d+$/), verdict: { status: 'clean' } });
  });

  it('EICAR: an SMTP reply 550 5.7.1 naming the virus', async () => {
    const r = await miltertest(
      'eicar',
      script(
        server.address,
        EICAR_BODY,
        `if reply ~= SMFIR_REPLYCODE then fail("unexpected reply " .. string.char(reply)) end
if not mt.eom_check(conn, MT_SMTPREPLY, "550", "5.7.1", "Virus found: Eicar-Test-Signature") then fail("wrong reply text") end`,
      ),
    );
    expect(r.ok && r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toContain('reply=y');
    expect(events.at(-1)?.verdict.status).toBe('infected');
  });

  it('the checks do fail when the expectation is wrong (the script is not vacuous)', async () => {
    const r = await miltertest('wrong', script(server.address, EICAR_BODY, 'if not mt.eom_check(conn, MT_SMTPREPLY, "451", "4.3.0", "Virus found: Eicar-Test-Signature") then fail("not a 451") end'));
    expect(r.ok ? r.exitCode : -1).not.toBe(0);
    expect(`${r.stdout}${r.stderr}`).toContain('FAIL: not a 451');
  });
});
