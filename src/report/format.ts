/**
 * Number and text formatting for the report. Locale-independent on purpose: the same
 * results.json must render to the same bytes on every machine.
 */

/** Digits grouped by thousands with a thin space: 12345.6 → "12 345.6". */
export function fmtNumber(n: number, digits = 0): string {
  if (!Number.isFinite(n)) return String(n);
  const fixed = Math.abs(n).toFixed(digits);
  const [int = '0', frac] = fixed.split('.');
  const grouped = int.replace(/\B(?=(\d{3})+(?!\d))/g, '\u2009');
  const sign = n < 0 && Number(fixed) !== 0 ? '-' : '';
  return `${sign}${grouped}${frac !== undefined ? `.${frac}` : ''}`;
}

/** A value with a sensible number of significant digits for its size (msgs/s, ms). */
export function fmtAuto(n: number): string {
  const a = Math.abs(n);
  if (a >= 100) return fmtNumber(n, 0);
  if (a >= 10) return fmtNumber(n, 1);
  if (a >= 1) return fmtNumber(n, 2);
  return fmtNumber(n, 3);
}

/** A rate in [0, 1] as a percentage ("99.5 %"); null → "n/a". */
export function fmtRate(r: number | null | undefined, digits = 1): string {
  if (r === null || r === undefined || !Number.isFinite(r)) return 'n/a';
  return `${fmtNumber(r * 100, digits)} %`;
}

/** Bytes in binary units ("312.4 MiB"). */
export function fmtBytes(b: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = b;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? fmtNumber(v, 0) : fmtNumber(v, 1)} ${units[i] ?? 'B'}`;
}

/** A signed percentage change ("+12.5 %", "-3.0 %"); null → "n/a". */
export function fmtChange(pct: number | null): string {
  if (pct === null || !Number.isFinite(pct)) return 'n/a';
  const s = fmtNumber(pct, 1);
  return `${pct > 0 && s !== '0.0' ? '+' : ''}${s} %`;
}
