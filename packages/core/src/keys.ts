import { KeyError } from './errors.js';
import { hasLoneSurrogate } from './names.js';

/**
 * Dump keys: `<instance>/<database alias>/<config>/<UTC YYYY-MM-DD-HH-MM-SS-ffffff>.dump`, the same layout as
 * django-pgclone so that dumps move between the two. Pure functions only.
 */

/** The parts of a well-formed dump key. */
export interface DumpKeyParts {
  instance: string;
  database: string;
  config: string;
  /** `YYYY-MM-DD-HH-MM-SS-ffffff` (UTC). */
  timestamp: string;
}

const PART = '[A-Za-z0-9_-]+';
const STAMP = '\\d{4}-\\d{2}-\\d{2}-\\d{2}-\\d{2}-\\d{2}-\\d+';
const KEY_PATTERN = new RegExp(`^(${PART})/(${PART})/(${PART})/(${STAMP})\\.dump$`);
const MAX_KEY_LENGTH = 1024;

/** Replaces every character outside `[A-Za-z0-9_-]` with `_` (django-pgclone does the same). */
export function sanitizeKeyPart(part: string): string {
  return part.replace(/[^A-Za-z0-9_-]/g, '_') || '_';
}

/** The UTC timestamp part of a key, with microseconds: `2026-11-25-14-03-59-123456`. */
export function formatKeyTimestamp(date: Date, microseconds = 0): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const micros = date.getUTCMilliseconds() * 1000 + (microseconds % 1000);
  return [
    p(date.getUTCFullYear(), 4),
    p(date.getUTCMonth() + 1),
    p(date.getUTCDate()),
    p(date.getUTCHours()),
    p(date.getUTCMinutes()),
    p(date.getUTCSeconds()),
    p(micros, 6),
  ].join('-');
}

/** Longest instance, database alias or config part of a key (each is a directory name in file storage). */
export const MAX_KEY_PART_LENGTH = 100;

/**
 * Refuses an instance, database alias or config name that no key can hold: one that starts with `-` (its dumps' keys
 * would too, and `pin`, `rm` and `restore` would read such a key as an option, so that no command could name them
 * again), or one longer than {@link MAX_KEY_PART_LENGTH}. Checked when the options are resolved, before anything
 * starts, and again when a key is built.
 */
export function assertKeyName(value: string, what: string): void {
  if (value.startsWith('-')) {
    throw new KeyError('NAME_INVALID', `Invalid ${what} ${JSON.stringify(value)}: it cannot start with "-" (a key starting with "-" reads as an option)`);
  }
  if (sanitizeKeyPart(value).length > MAX_KEY_PART_LENGTH) {
    throw new KeyError('NAME_TOO_LONG', `The ${what} ${JSON.stringify(value.slice(0, 40))}… is too long for a dump key (at most ${MAX_KEY_PART_LENGTH} characters)`);
  }
}

/** Builds a dump key; throws as {@link assertKeyName} does for a part no key can hold. */
export function formatDumpKey(parts: Omit<DumpKeyParts, 'timestamp'>, date = new Date(), microseconds = 0): string {
  for (const [what, value] of [['instance', parts.instance], ['database alias', parts.database], ['config', parts.config]] as const) {
    assertKeyName(value, what);
  }
  return [
    sanitizeKeyPart(parts.instance),
    sanitizeKeyPart(parts.database),
    sanitizeKeyPart(parts.config),
    `${formatKeyTimestamp(date, microseconds)}.dump`,
  ].join('/');
}

/** Parses a well-formed key, or returns `undefined`. */
export function parseDumpKey(key: string): DumpKeyParts | undefined {
  const m = KEY_PATTERN.exec(key);
  if (!m || !isRealTimestamp(m[4]!)) return undefined;
  return { instance: m[1]!, database: m[2]!, config: m[3]!, timestamp: m[4]! };
}

/** True when `key` follows the dump key format. */
export function isDumpKey(key: string): boolean {
  return parseDumpKey(key) !== undefined;
}

/** A timestamp that names a moment (`2026-13-45-…` does not: such a key would sort as the newest). */
function isRealTimestamp(stamp: string): boolean {
  const [y, mo, d, h, mi, s] = stamp.split('-').map(Number) as [number, number, number, number, number, number];
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  return date.getUTCFullYear() === y && date.getUTCMonth() === mo - 1 && date.getUTCDate() === d && h < 24 && mi < 60 && s < 60;
}

/** True when the key names a sidecar file (manifests, pins) rather than a dump. */
export function isSidecarKey(key: string): boolean {
  return /\.(manifest|pin)\.json$/.test(key) || /(^|\/)\.[^/]*$/.test(key);
}

/**
 * Checks a key or prefix typed by a user or found in storage before it is used as a path or object name:
 * no `..` or `.` segments, no absolute paths, no backslashes, no control characters, nothing too long.
 * Throws {@link KeyError} naming the value.
 */
export function assertSafeKey(key: string, what = 'key'): void {
  const show = JSON.stringify(key.length > 120 ? `${key.slice(0, 120)}…` : key);
  const fail = (why: string): never => {
    throw new KeyError('KEY_INVALID', `Invalid ${what} ${show}: ${why}`);
  };
  if (key.length > MAX_KEY_LENGTH) fail(`longer than ${MAX_KEY_LENGTH} characters`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(key)) fail('contains a control character');
  if (key.includes('\\')) fail('contains a backslash');
  if (hasLoneSurrogate(key)) fail('is not valid Unicode (a lone surrogate)');
  if (key.startsWith('/') || /^[A-Za-z]:/.test(key)) fail('is an absolute path');
  const segments = key.split('/');
  if (segments.some((s) => s === '..' || s === '.')) fail('contains a "." or ".." path segment');
  if (segments.slice(0, -1).some((s) => s === '')) fail('contains an empty path segment');
}

/**
 * True when `key` is under `prefix` by whole path segments: `dev` matches `dev/...` but not `devops/...`. The last
 * segment of the prefix may end mid-way through the key's last segment (`dev/default/none/2026-11` is fine).
 */
export function keyMatchesPrefix(key: string, prefix: string): boolean {
  if (prefix === '') return true;
  const k = key.split('/');
  const p = prefix.split('/');
  if (p.length > k.length) return false;
  for (let i = 0; i < p.length - 1; i++) if (p[i] !== k[i]) return false;
  const last = p.length - 1;
  const lastPart = p[last]!;
  if (lastPart === '') return true;
  return last === k.length - 1 ? k[last]!.startsWith(lastPart) : k[last] === lastPart;
}

/** A listed object as the key logic needs it. */
export interface KeyedObject {
  key: string;
  modified?: Date;
}

/** Sort order: newest first by the key's own timestamp (not lexicographically); unparsable keys by mtime. */
export function compareNewestFirst(a: KeyedObject, b: KeyedObject): number {
  const ta = sortStamp(a);
  const tb = sortStamp(b);
  if (ta !== tb) return ta < tb ? 1 : -1;
  return a.key < b.key ? 1 : a.key > b.key ? -1 : 0;
}

function sortStamp(o: KeyedObject): string {
  const parts = parseDumpKey(o.key);
  if (parts) {
    const [date, frac = '0'] = [parts.timestamp.slice(0, 19), parts.timestamp.slice(20)];
    return `${date}-${frac.padEnd(9, '0').slice(0, 9)}`;
  }
  return o.modified ? formatKeyTimestamp(o.modified).slice(0, 19) + '-' + '0'.repeat(9) : '';
}

/**
 * The keys of `objects` a listing or prefix restore may use: dump keys under `prefix`, newest first. With
 * `validateDumpKeys: false`, files that do not follow the key format are included too (newest by mtime).
 * Sidecars (manifests, pins, partial uploads) are never included.
 */
export function selectDumpKeys<T extends KeyedObject>(
  objects: readonly T[],
  options: { prefix?: string; validateDumpKeys: boolean },
): T[] {
  const prefix = options.prefix ?? '';
  return objects
    .filter((o) => !isSidecarKey(o.key))
    .filter((o) => (options.validateDumpKeys ? isDumpKey(o.key) : true))
    .filter((o) => keyMatchesPrefix(o.key, prefix))
    .sort(compareNewestFirst);
}

/** Sorted unique instance, database or config parts of well-formed keys (`ls --instances` and friends). */
export function uniqueKeyParts(keys: readonly string[], part: 'instance' | 'database' | 'config'): string[] {
  const values = new Set<string>();
  for (const key of keys) {
    const parts = parseDumpKey(key);
    if (parts) values.add(parts[part]);
  }
  return [...values].sort();
}
