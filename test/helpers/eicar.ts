/** The EICAR test string, assembled at run time (never stored whole in this repository). */
export const EICAR_TEXT = 'X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR' + '-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*';
export const EICAR = Buffer.from(EICAR_TEXT, 'latin1');

/** A simple multipart message with one base64 attachment. */
export function mailWithAttachment(filename: string, data: Buffer, opts: { lf?: boolean } = {}): Buffer {
  const nl = opts.lf ? '\n' : '\r\n';
  const b64 = data.toString('base64').replace(/.{1,76}/g, (l) => l + nl);
  return Buffer.from(
    [
      'From: Alice <alice@example.org>',
      'To: bob@example.net',
      'Subject: the file',
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="b1"',
      '',
      '--b1',
      'Content-Type: text/plain; charset=utf-8',
      '',
      'Here it is.',
      '--b1',
      `Content-Type: application/octet-stream; name="${filename}"`,
      `Content-Disposition: attachment; filename="${filename}"`,
      'Content-Transfer-Encoding: base64',
      '',
      b64 + '--b1--',
      '',
    ].join(nl),
    'latin1',
  );
}
