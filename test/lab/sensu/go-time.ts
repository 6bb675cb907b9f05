/**
 * Go's time formats and duration syntax, so the stand-ins print and parse times the way the Go
 * binaries do (logrus timestamps, keepalive outputs, `retry-max: 2m` in YAML).
 */

function pad(n: number, width = 2): string {
  return String(Math.trunc(Math.abs(n))).padStart(width, '0');
}

function offsetParts(d: Date): { sign: string; hh: string; mm: string; minutes: number } {
  const minutes = -d.getTimezoneOffset();
  return { sign: minutes < 0 ? '-' : '+', hh: pad(Math.abs(minutes) / 60), mm: pad(Math.abs(minutes) % 60), minutes };
}

function localDateTime(d: Date, dateSep: string): string {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}${dateSep}${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** Go's `time.RFC3339` in local time, what logrus' JSON formatter stamps on every line. */
export function rfc3339(d: Date = new Date()): string {
  const o = offsetParts(d);
  return localDateTime(d, 'T') + (o.minutes === 0 ? 'Z' : `${o.sign}${o.hh}:${o.mm}`);
}

function zoneAbbreviation(d: Date): string {
  const part = new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' }).formatToParts(d).find((p) => p.type === 'timeZoneName');
  const name = part?.value ?? '';
  // Intl says "GMT+2" where Go would print the numeric offset for zones without an abbreviation.
  if (name === '' || name.startsWith('GMT')) {
    const o = offsetParts(d);
    return o.minutes === 0 ? 'UTC' : `${o.sign}${o.hh}${o.mm}`;
  }
  return name;
}

/** Go's `time.Time.String()` for whole seconds: `2024-05-01 12:00:00 +0000 UTC`. */
export function goTimeString(d: Date): string {
  const o = offsetParts(d);
  return `${localDateTime(d, ' ')} ${o.sign}${o.hh}${o.mm} ${zoneAbbreviation(d)}`;
}

/** Go's `time.RFC3339` in UTC, as `x509` prints certificate validity bounds. */
export function rfc3339Utc(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

const UNIT_NS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  µs: 1e3,
  μs: 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/**
 * Parses a Go duration (`1s`, `1m30s`, `250ms`) and returns milliseconds.
 * @throws Error with Go's text (`time: invalid duration "x"`) when the syntax is wrong.
 */
export function parseGoDuration(text: string): number {
  const invalid = (): Error => new Error(`time: invalid duration "${text}"`);
  let s = text;
  let sign = 1;
  if (s.startsWith('-') || s.startsWith('+')) {
    if (s.startsWith('-')) sign = -1;
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') throw invalid();
  let totalNs = 0;
  const re = /^(\d*\.?\d*)([^\d.]*)/;
  while (s.length > 0) {
    const m = re.exec(s);
    const num = m?.[1] ?? '';
    const unit = m?.[2] ?? '';
    if (num === '' || num === '.') throw invalid();
    if (unit === '') throw new Error(`time: missing unit in duration "${text}"`);
    const scale = UNIT_NS[unit];
    if (scale === undefined) throw new Error(`time: unknown unit "${unit}" in duration "${text}"`);
    totalNs += Number(num) * scale;
    s = s.slice(num.length + unit.length);
  }
  if (!Number.isFinite(totalNs)) throw invalid();
  return (sign * totalNs) / 1e6;
}
