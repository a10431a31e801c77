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
 * years are refused on purpose: their length varies, and a retention rule should say exactly what it keeps. Units go
 * from the largest to the smallest, each once: `1m1m` or `30m1h` is a typo to report, not a sum to guess at.
 */
export function parseDuration(text: string, what = '--older-than'): number {
  // No whitespace anywhere, as with every other number flag (`-j ' 3'` is refused): ` 1d` is refused, not trimmed.
  const pattern = /(\d+)([smhdw])/gy;
  let total = 0;
  let matched = 0;
  let ordered = true;
  let previous = Infinity;
  let m: RegExpExecArray | null;
  while ((m = pattern.exec(text))) {
    const unit = UNITS[m[2]!]!;
    if (unit >= previous) ordered = false;
    previous = unit;
    total += Number(m[1]) * unit;
    matched = pattern.lastIndex;
  }
  if (text === '' || matched !== text.length || !ordered || total <= 0 || !Number.isSafeInteger(total)) {
    throw new UsageError(
      `Invalid ${what} ${JSON.stringify(text.slice(0, 40))}: use a number and a unit, e.g. 30d, 12h, 2w or 1d12h (units w, d, h, m, s, largest first, each once)`,
    );
  }
  return total;
}
