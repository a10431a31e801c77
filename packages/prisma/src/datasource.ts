import { AdapterError } from '@pgclone/core';

/** A datasource attribute's value: `env("NAME")` or a string literal. */
export type DatasourceValue = { env: string } | { value: string };

/** The `datasource` block of a Prisma schema, as far as pgclone needs it. */
export interface SchemaDatasource {
  /** The block's name (`db`), which Prisma prints as `Datasource "db"`. */
  name: string;
  /** `postgresql`, `mysql`, …, or the environment variable it is read from. */
  provider: DatasourceValue | undefined;
  /** Prisma 6: the (possibly pooled) connection URL. Prisma 7 schemas have none (it lives in prisma.config.ts). */
  url?: DatasourceValue;
  /** Prisma 6: the direct connection Prisma Migrate uses when `url` goes through a pooler. */
  directUrl?: DatasourceValue;
  shadowDatabaseUrl?: DatasourceValue;
  /** File the block is in, and its line, for messages. */
  file: string;
  line: number;
}

interface Token {
  kind: 'ident' | 'string' | 'punct' | 'other';
  value: string;
  line: number;
}

/**
 * Splits Prisma schema source into tokens. Only what the datasource block needs is told apart: identifiers, string
 * literals (with JSON escapes, as in PSL), and punctuation; `//` and `///` comments are skipped.
 */
function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let line = 1;
  let i = 0;
  while (i < source.length) {
    const c = source[i]!;
    if (c === '\n') {
      line++;
      i++;
    } else if (/\s/.test(c)) {
      i++;
    } else if (c === '/' && source[i + 1] === '/') {
      while (i < source.length && source[i] !== '\n') i++;
    } else if (c === '"') {
      let j = i + 1;
      while (j < source.length && source[j] !== '"' && source[j] !== '\n') j += source[j] === '\\' ? 2 : 1;
      const raw = source.slice(i, j + 1);
      let value: string;
      try {
        value = JSON.parse(raw) as string;
      } catch {
        value = raw.slice(1, -1);
      }
      tokens.push({ kind: 'string', value, line });
      i = j + 1;
    } else if (/[A-Za-z_]/.test(c)) {
      let j = i + 1;
      while (j < source.length && /[A-Za-z0-9_]/.test(source[j]!)) j++;
      tokens.push({ kind: 'ident', value: source.slice(i, j), line });
      i = j;
    } else if ('{}()[]=,'.includes(c)) {
      tokens.push({ kind: 'punct', value: c, line });
      i++;
    } else {
      tokens.push({ kind: 'other', value: c, line });
      i++;
    }
  }
  return tokens;
}

/** Skips one attribute value starting at `i` (a string, a call, an array, a number…) and returns the next index. */
function skipValue(tokens: Token[], i: number): number {
  let depth = 0;
  for (; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.kind === 'punct' && (t.value === '(' || t.value === '[')) depth++;
    else if (t.kind === 'punct' && (t.value === ')' || t.value === ']')) depth--;
    else if (depth === 0 && t.kind === 'punct' && t.value === '}') return i;
    const next = tokens[i + 1];
    // With no bracket open, a value ends at the end of its line or where the next `key =` starts.
    if (depth === 0 && (!next || next.line !== t.line)) return i + 1;
    if (depth === 0 && next?.kind === 'ident' && tokens[i + 2]?.value === '=') return i + 1;
  }
  return i;
}

/** Reads `"literal"` or `env("NAME")` at `i`. */
function readValue(tokens: Token[], i: number): DatasourceValue | undefined {
  const t = tokens[i];
  if (t?.kind === 'string') return { value: t.value };
  if (t?.kind === 'ident' && t.value === 'env' && tokens[i + 1]?.value === '(' && tokens[i + 2]?.kind === 'string' && tokens[i + 3]?.value === ')') {
    return { env: tokens[i + 2]!.value };
  }
  return undefined;
}

/**
 * Finds the `datasource` blocks of the given schema files (a multi-file schema may put it in any file). A small
 * parser of the block: comments, string escapes and multi-line arrays are handled; everything else is skipped.
 */
export function parseDatasources(files: ReadonlyArray<readonly [file: string, source: string]>): SchemaDatasource[] {
  const found: SchemaDatasource[] = [];
  for (const [file, source] of files) {
    const tokens = tokenize(source);
    let depth = 0;
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i]!;
      if (t.kind === 'punct' && t.value === '{') depth++;
      else if (t.kind === 'punct' && t.value === '}') depth--;
      if (depth !== 0 || t.kind !== 'ident' || t.value !== 'datasource') continue;
      const name = tokens[i + 1];
      if (name?.kind !== 'ident' || tokens[i + 2]?.value !== '{') continue;
      const block: SchemaDatasource = { name: name.value, provider: undefined, file, line: t.line };
      let j = i + 3;
      while (j < tokens.length && !(tokens[j]!.kind === 'punct' && tokens[j]!.value === '}')) {
        const key = tokens[j]!;
        if (key.kind === 'ident' && tokens[j + 1]?.value === '=') {
          const value = readValue(tokens, j + 2);
          if (key.value === 'provider') block.provider = value;
          else if (key.value === 'url' || key.value === 'directUrl' || key.value === 'shadowDatabaseUrl') {
            if (value) block[key.value] = value;
          }
          j = skipValue(tokens, j + 2);
        } else {
          j = skipValue(tokens, j);
        }
      }
      found.push(block);
      i = j;
    }
  }
  return found;
}

/** The one datasource of a schema; Prisma allows exactly one. */
export function singleDatasource(files: ReadonlyArray<readonly [string, string]>, schemaDisplay: string): SchemaDatasource {
  const all = parseDatasources(files);
  if (all.length === 0) {
    throw new AdapterError(`The Prisma schema ${schemaDisplay} has no datasource block`);
  }
  if (all.length > 1) {
    throw new AdapterError(
      `The Prisma schema ${schemaDisplay} has ${all.length} datasource blocks (${all.map((d) => d.name).join(', ')}); Prisma allows one`,
    );
  }
  return all[0]!;
}

/** Prisma's names for PostgreSQL. */
export const POSTGRES_PROVIDERS: readonly string[] = ['postgresql', 'postgres'];

/** Throws unless the datasource's provider is PostgreSQL, naming the provider it found. */
export function assertPostgres(datasource: SchemaDatasource, env: NodeJS.ProcessEnv, where: string): void {
  const provider = datasource.provider;
  const value = provider === undefined ? undefined : 'env' in provider ? env[provider.env] : provider.value;
  if (value !== undefined && POSTGRES_PROVIDERS.includes(value)) return;
  const shown =
    value === undefined
      ? provider && 'env' in provider
        ? `env("${provider.env}"), which is not set`
        : 'no provider'
      : `provider "${value}"`;
  throw new AdapterError(
    `The Prisma datasource "${datasource.name}" in ${where} uses ${shown}; pgclone works with PostgreSQL only (provider = "postgresql")`,
  );
}
