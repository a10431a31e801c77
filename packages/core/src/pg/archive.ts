import { databaseFromScript } from './database-script.js';
import { DumpError } from '../errors.js';

/**
 * What the first bytes of a dump say. pgclone accepts custom-format archives (`pg_dump -Fc`), plain or wrapped in
 * an outer compressor; anything else is refused before a database is touched.
 */
export interface ArchiveHeader {
  /** Outer compression around the archive, detected by magic bytes. */
  wrapper: 'none' | 'gzip' | 'zstd' | 'lz4';
  /** Archive version (`[1, 14, 0]` for pg_dump 12–15), when the archive itself is visible (wrapper `none`). */
  version?: [number, number, number];
}

/** Bytes needed to recognise a dump. */
export const HEADER_BYTES = 16;

/** Recognises a dump from its first bytes; throws {@link DumpError} naming `key` when it is not one. */
export function parseArchiveHeader(bytes: Buffer, key: string): ArchiveHeader {
  if (bytes.length === 0) throw new DumpError('DUMP_INVALID', `Dump ${key} is empty`);
  if (bytes.subarray(0, 5).toString('latin1') === 'PGDMP') {
    if (bytes.length < 11) throw new DumpError('DUMP_INVALID', `Dump ${key} is truncated (${bytes.length} bytes)`);
    const format = bytes[10];
    if (format !== 1) {
      throw new DumpError('DUMP_INVALID', `Dump ${key} is a pg_dump archive of format ${format}; pgclone restores custom-format archives (pg_dump -Fc)`);
    }
    return { wrapper: 'none', version: [bytes[5]!, bytes[6]!, bytes[7]!] };
  }
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) return { wrapper: 'gzip' };
  if (bytes.readUInt32LE(0) === 0xfd2fb528) return { wrapper: 'zstd' };
  if (bytes.readUInt32LE(0) === 0x184d2204) return { wrapper: 'lz4' };
  if (/^(--|SET |\\)/.test(bytes.toString('utf8', 0, Math.min(bytes.length, 8)))) {
    throw new DumpError('DUMP_INVALID', `Dump ${key} is a plain SQL script, not a custom-format archive (restore it with psql)`);
  }
  throw new DumpError('DUMP_INVALID', `Dump ${key} is not a pg_dump custom-format archive`);
}

/** The newest archive version a pg_restore of major `major` reads. */
export function maxArchiveVersion(major: number): [number, number] {
  if (major >= 17) return [1, 16];
  if (major === 16) return [1, 15];
  if (major >= 12) return [1, 14];
  if (major === 11) return [1, 13];
  return [1, 12];
}

/** The pg_dump major that writes an archive version (for messages). */
function writerOf(version: [number, number, number]): string {
  const [, minor] = version;
  if (minor >= 16) return 'pg_dump 17 or newer';
  if (minor === 15) return 'pg_dump 16';
  if (minor === 14) return 'pg_dump 12–15';
  if (minor === 13) return 'pg_dump 11';
  return 'pg_dump 10 or older';
}

/** Throws when the local pg_restore cannot read the archive version, naming both. */
export function assertArchiveReadable(header: ArchiveHeader, key: string, pgRestore: { major: number; version: string }): void {
  if (!header.version) return;
  const [major, minor] = header.version;
  const [maxMajor, maxMinor] = maxArchiveVersion(pgRestore.major);
  if (major > maxMajor || (major === maxMajor && minor > maxMinor)) {
    throw new DumpError(
      'DUMP_INVALID',
      `Dump ${key} has archive version ${header.version.slice(0, 2).join('.')} (${writerOf(header.version)}), ` +
        `newer than pg_restore ${pgRestore.version} reads (up to ${maxMajor}.${maxMinor}); install a newer pg_restore or set PGCLONE_PG_BIN`,
    );
  }
}

/**
 * The `SET` clauses of the `ALTER DATABASE … SET …` statements in `pg_restore --create` output, to re-target at
 * another database. pg_restore without `--create` ignores them, so pgclone applies them itself.
 */
export function databaseSettingsFromScript(script: string): string[] {
  return databaseFromScript(script).settings;
}
