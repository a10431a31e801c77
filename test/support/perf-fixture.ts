import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { Storage } from '@pgclone/core';
import { cluster, createDatabase, sql } from './pg.js';

/**
 * A database with what a dump/restore round trip can lose: several tables (so that `pg_restore -j` has parallel
 * work), bytea, jsonb, numeric, an index, a foreign key, a sequence with a set value, and large objects. About 4 MB of
 * table data: more than one 1 MiB gzip block, small enough to dump in a second.
 */
export async function createPerfFixture(db: string): Promise<void> {
  await createDatabase(db);
  await sql(
    db,
    `CREATE TABLE items (id bigserial PRIMARY KEY, name text NOT NULL, payload jsonb, blob bytea, n numeric);
     INSERT INTO items (name, payload, blob, n)
       SELECT 'item ' || g, jsonb_build_object('g', g, 'h', md5(g::text)), decode(md5(g::text), 'hex'), g * 1.5
       FROM generate_series(1, 30000) g;
     CREATE TABLE notes (id int PRIMARY KEY, item_id bigint REFERENCES items(id), note text);
     INSERT INTO notes SELECT g, g, repeat(md5(g::text), 4) FROM generate_series(1, 20000) g;
     CREATE INDEX notes_note_idx ON notes (note);
     CREATE SEQUENCE counter START 100;
     SELECT setval('counter', 777);
     SELECT lo_from_bytea(0, convert_to(repeat('large object ' || g || ' ', 5000), 'UTF8')) FROM generate_series(1, 3) g;`,
  );
}

/** Everything the fixture holds, as comparable values. */
export async function fingerprint(db: string): Promise<Record<string, unknown>> {
  const one = async (text: string) => (await sql(db, text))[0];
  return {
    items: await one(`SELECT count(*)::int AS n, md5(string_agg(t::text, ',' ORDER BY id)) AS h FROM items t`),
    notes: await one(`SELECT count(*)::int AS n, md5(string_agg(t::text, ',' ORDER BY id)) AS h FROM notes t`),
    counter: await one(`SELECT last_value::int AS v, is_called FROM counter`),
    itemsSeq: await one(`SELECT last_value::int AS v FROM items_id_seq`),
    largeObjects: await sql(db, `SELECT oid::int AS oid, md5(lo_get(oid)) AS h FROM pg_largeobject_metadata ORDER BY oid`),
    indexes: await sql(db, `SELECT indexname FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1`),
    foreignKeys: await sql(db, `SELECT conname FROM pg_constraint WHERE contype = 'f' ORDER BY 1`),
  };
}

/** A key path under the default layout for a dump dropped into the local storage by hand. */
export function handMadeKey(seq: number): string {
  return `dev/default/none/2026-01-01-00-00-00-${String(seq).padStart(6, '0')}.dump`;
}

/**
 * Writes a dump made by plain `pg_dump -Fc` (optionally `-Z0` piped through an outer compressor, as people do by
 * hand) into the storage directory `storage` under `key`.
 */
export function writeHandMadeDump(db: string, storage: string, key: string, how: { pgDumpArgs?: string[]; pipe?: string[] } = {}): string {
  const c = cluster();
  const file = path.join(storage, ...key.split('/'));
  mkdirSync(path.dirname(file), { recursive: true });
  const archive = execFileSync(
    path.join(c.binDir, 'pg_dump'),
    ['-Fc', ...(how.pgDumpArgs ?? []), '-h', c.host, '-p', String(c.port), '-U', c.user, '-d', db],
    { env: { ...process.env, PGPASSWORD: c.password }, maxBuffer: 1 << 30 },
  );
  const bytes = how.pipe ? execFileSync(how.pipe[0]!, how.pipe.slice(1), { input: archive, maxBuffer: 1 << 30 }) : archive;
  writeFileSync(file, bytes);
  return file;
}

/**
 * `storage` looking remote (no local path: pgclone spools or streams what it reads) and slow: reads arrive in 64 KiB
 * pieces, one every `pieceMs`, like a download. `onRead` is told when each read starts.
 */
export function slowRemote(storage: Storage, pieceMs: number, onRead?: () => void): Storage {
  return {
    display: storage.display,
    list: (prefix) => storage.list(prefix),
    stat: (key) => storage.stat(key),
    write: (key, hints) => storage.write(key, hints),
    delete: (key) => storage.delete(key),
    read: async (key, range) => {
      onRead?.();
      const whole = await storage.read(key, range);
      return Readable.from(
        (async function* () {
          for await (const chunk of whole as AsyncIterable<Buffer>) {
            for (let at = 0; at < chunk.length; at += 64 << 10) {
              await new Promise((resolve) => setTimeout(resolve, pieceMs));
              yield chunk.subarray(at, at + (64 << 10));
            }
          }
        })(),
      );
    },
  };
}
