/** Small display helpers shared by the views. */

// One format everywhere, always with the zone: "14:05:09 UTC" today, "Dec 6, 14:05 UTC" on other days.
const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23', timeZoneName: 'short' });
const dateTimeFmt = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZoneName: 'short' });

/** A clock time with its zone today, a date and time with its zone otherwise; '–' for none. */
export function when(isoOrMs: string | number | null | undefined): string {
  if (isoOrMs === null || isoOrMs === undefined) return '–';
  const d = new Date(isoOrMs);
  const today = new Date();
  return d.toDateString() === today.toDateString() ? timeFmt.format(d) : dateTimeFmt.format(d);
}

/** 45 s, 12 min, 3.5 h, 2.1 d. */
export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '–';
  const s = Math.max(0, seconds);
  if (s < 90) return `${Math.round(s)} s`;
  if (s < 90 * 60) return `${Math.round(s / 60)} min`;
  if (s < 36 * 3600) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86400).toFixed(1)} d`;
}

/** "in 3 min" / "3 min ago" relative to now. */
export function relative(isoStr: string | null | undefined, now = Date.now()): string {
  if (!isoStr) return '–';
  const dt = (new Date(isoStr).getTime() - now) / 1000;
  if (Math.abs(dt) < 1.5) return 'now';
  return dt > 0 ? `in ${duration(dt)}` : `${duration(-dt)} ago`;
}

export function pct(x: number | null | undefined, digits = 0): string {
  return x === null || x === undefined || !Number.isFinite(x) ? '–' : `${(100 * x).toFixed(digits)}%`;
}

export function num(x: number | null | undefined, digits = 2): string {
  return x === null || x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(digits);
}

export function int(x: number): string {
  return Math.round(x).toLocaleString('en-US');
}

/**
 * Splits a command line into arguments the way a user expects from a shell, without being one: spaces separate,
 * single and double quotes group, a backslash escapes the next character. No variables, globs or pipes.
 */
export function splitCommand(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quote: '"' | "'" | null = null;
  let started = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === quote) quote = null;
      else if (c === '\\' && quote === '"' && i + 1 < line.length) cur += line[++i];
      else cur += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      started = true;
    } else if (c === '\\' && i + 1 < line.length) {
      cur += line[++i];
      started = true;
    } else if (/\s/.test(c)) {
      if (started) out.push(cur);
      cur = '';
      started = false;
    } else {
      cur += c;
      started = true;
    }
  }
  if (quote) throw new Error(`unclosed ${quote} quote in the command`);
  if (started) out.push(cur);
  return out;
}
