// Locating pg_dump/pg_restore with the real binaries of this machine.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { PgcloneError } from '../src/errors.js';
import { locateTool, locateToolForServer } from '../src/pg/tools.js';

const { binDir, major } = inject('pg');
const dir = mkdtempSync(path.join(os.tmpdir(), 'pgclone-tools-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function failure(promise: Promise<unknown>): Promise<PgcloneError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(PgcloneError);
  expect((error as Error).message).not.toContain('\n');
  return error as PgcloneError;
}

describe('locating the PostgreSQL tools', () => {
  it('looks in PGCLONE_PG_BIN first', async () => {
    const custom = path.join(dir, 'custom');
    mkdirSync(custom);
    symlinkSync(path.join(binDir, 'pg_restore'), path.join(custom, 'pg_restore'));
    const tool = await locateTool('pg_restore', major, { PGCLONE_PG_BIN: custom, PATH: '' });
    expect(tool).toMatchObject({ name: 'pg_restore', path: path.join(custom, 'pg_restore'), major });
    expect(tool.version).toMatch(new RegExp(`^${major}\\.\\d+$`));
  });

  it('then /usr/lib/postgresql/<server major>/bin, before PATH', async () => {
    const tool = await locateTool('pg_dump', major, { PATH: '/usr/bin:/bin' });
    expect(tool.path).toBe(`/usr/lib/postgresql/${major}/bin/pg_dump`);
  });

  it('a missing tool is a one-line error with the install hint', async () => {
    const error = await failure(locateTool('pg_dump', 99, { PGCLONE_PG_BIN: path.join(dir, 'nowhere'), PATH: path.join(dir, 'nowhere') }));
    expect(error.code).toBe('TOOL_MISSING');
    expect(error.message).toContain('pg_dump not found');
    expect(error.message).toContain('apt-get install postgresql-client');
    expect(error.message).toContain('PGCLONE_PG_BIN');
  });

  it('a pg_dump older than the server is an error naming both versions', async () => {
    const error = await failure(locateToolForServer('pg_dump', major + 1, { PGCLONE_PG_BIN: binDir, PATH: '' }));
    expect(error.code).toBe('TOOL_VERSION');
    expect(error.message).toContain(`older than the PostgreSQL ${major + 1} server`);
    expect(error.message).toMatch(new RegExp(`version ${major}\\.\\d+`));
    await expect(locateToolForServer('pg_dump', major, { PGCLONE_PG_BIN: binDir })).resolves.toMatchObject({ major });
  });
});
