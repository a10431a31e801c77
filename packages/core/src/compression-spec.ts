/**
 * The `compression` option as users write it: `auto`, `none`, `gzip[:level]`, `zstd[:level]` or `lz4[:level]`.
 * Parsing lives apart from the compressors so that the config schema can validate it without loading them.
 */

/** A compression method. `auto` lets pgclone choose (see `pg/compression.ts`). */
export type CompressionMethod = 'auto' | 'none' | 'gzip' | 'zstd' | 'lz4';

/** A parsed `compression` value. */
export interface CompressionSpec {
  method: CompressionMethod;
  /** Explicit level; absent means the method's default. */
  level?: number;
}

/** Accepted levels per method (the ranges pg_dump and the zstd/lz4 CLIs share). */
export const COMPRESSION_LEVELS = { gzip: [1, 9], zstd: [1, 19], lz4: [1, 12] } as const;

const PATTERN = /^(auto|none|gzip|zstd|lz4)(?::(\d{1,2}))?$/;

/** One line describing the accepted values, for errors and help. */
export const COMPRESSION_HELP = 'auto, none, gzip[:1-9], zstd[:1-19] or lz4[:1-12]';

/** Parses a `compression` value; `undefined` when it is not one (the caller words the error). */
export function parseCompression(text: string): CompressionSpec | undefined {
  const m = PATTERN.exec(text.trim().toLowerCase());
  if (!m) return undefined;
  const method = m[1] as CompressionMethod;
  if (m[2] === undefined) return { method };
  if (method === 'auto' || method === 'none') return undefined;
  const level = Number(m[2]);
  const [min, max] = COMPRESSION_LEVELS[method];
  return level >= min && level <= max ? { method, level } : undefined;
}

/** The spec written back as text (`zstd:3`, `auto`). */
export function formatCompression(spec: CompressionSpec): string {
  return spec.level === undefined ? spec.method : `${spec.method}:${spec.level}`;
}
