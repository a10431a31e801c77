import { UsageError } from './errors.js';

const UNITS: Record<string, number> = {
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/**
 * Parses a duration such as `30d`, `12h`, `2w`, `1d12h` or `90m` (units s, m, h, d, w) into milliseconds. Months and
 * years are refused on purpose: their length varies, and a retention rule should say exactly what it keeps.
 */
export function parseDuration(text: string, what = '--older-than'): number {
  const trimmed = text.trim();
  const pattern = /(\d+)\s*([smhdw])/gy;
  let total = 0;
  let matched = 0;
  let m: RegExpExecArray | null;
  while ((m = pattern.exec(trimmed))) {
    total += Number(m[1]) * UNITS[m[2]!]!;
    matched = pattern.lastIndex;
  }
  if (trimmed === '' || matched !== trimmed.length || total <= 0 || !Number.isSafeInteger(total)) {
    throw new UsageError(
      `Invalid ${what} ${JSON.stringify(text.slice(0, 40))}: use a number and a unit, e.g. 30d, 12h, 2w or 1d12h (units s, m, h, d, w)`,
    );
  }
  return total;
}

/** A short human age: `45s`, `12m`, `5h`, `3d`. */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

/** A short human size: `512 B`, `1.5 KiB`, `12.0 MiB`. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}
