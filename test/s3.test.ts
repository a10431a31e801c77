import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from './support/cluster.js';
import { KNEX_PGCLONE_BIN, runCli, runScript } from './support/cli.js';
import { PRISMA_PGCLONE_BIN } from './support/prisma.js';
import { createDatabase, dbUrl, dropDatabases, sql, uniqueName } from './support/pg.js';
import { createBucket, s3, s3Client, s3Env, s3Settings, seedObjects, startS3Proxy, uniqueBucket, type S3Proxy } from './support/s3.js';

const MIB = 1024 * 1024;
const prefix = uniqueName('s3cli');

/** A directory with a pgclone.config.json holding `config`. */
function project(config: Record<string, unknown>): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pgclone-s3-'));
  writeFileSync(path.join(dir, 'pgclone.config.json'), JSON.stringify(config, null, 2));
  return dir;
}

/** Keys of every object under `keyPrefix` in `bucket`, straight from the server. */
async function objectsUnder(bucket: string, keyPrefix: string): Promise<string[]> {
  const client = s3Client();
  try {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: keyPrefix }));
    return (page.Contents ?? []).map((o) => o.Key!);
  } finally {
    client.destroy();
  }
}

/** The pid of `name` among the children of `parent` (Linux /proc). */
function childPid(parent: number, name: string): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const m = /^\d+ \((.*)\) \S+ (\d+)/.exec(stat);
      if (m && m[1] === name && Number(m[2]) === parent) return Number(entry);
    } catch {
      // the process ended meanwhile
    }
  }
  return undefined;
}

const checksum = async (db: string) =>
  (await sql<{ n: number; h: string }>(db, 'SELECT count(*)::int AS n, md5(string_agg(md5(payload), \'\' ORDER BY id)) AS h FROM big'))[0];

describe('S3 storage through the CLI', () => {
  const small = `${prefix}_small`;
  const big = `${prefix}_big`;
  let bucket: string;
  let proxy: S3Proxy;
  let cwd: string;
  const env = (db: string, extra: Record<string, string | undefined> = {}) => ({ DATABASE_URL: dbUrl(db), ...s3Env(extra) });

  beforeAll(async () => {
    bucket = await createBucket('cli');
    proxy = await startS3Proxy();
    // 5 MiB parts (S3's minimum) and one part in flight keep the multipart tests small and the pg_dump stalls exact.
    cwd = project({
      s3: s3Settings({ endpoint: proxy.endpoint, partSize: '5MiB', queueSize: 1 }),
      configs: { prod: { storageLocation: `s3://${bucket}/company/pg/` } },
    });
    await createDatabase(small);
    await sql(small, 'CREATE TABLE t (id int PRIMARY KEY, note text); INSERT INTO t SELECT g, \'row \' || g FROM generate_series(1, 100) g');
    await createDatabase(big);
    // 17 MiB of incompressible bytes (SHA-512 output): a custom-format dump of four 5 MiB parts or more.
    await sql(
      big,
      `CREATE TABLE big (id int PRIMARY KEY, payload bytea);
       INSERT INTO big SELECT g, (SELECT string_agg(sha512(int4send(g * 128 + i)), ''::bytea) FROM generate_series(0, 127) i)
       FROM generate_series(1, 2200) g`,
    );
  });
  afterAll(async () => {
    await proxy.close();
    await dropDatabases(prefix);
  });

  it('dumps, lists and restores with -s s3://bucket/prefix/', async () => {
    const location = `s3://${bucket}/roundtrip/`;
    const dumped = await runCli(['dump', '-s', location], { cwd, env: env(small) });
    expect(dumped.code, dumped.stderr).toBe(0);
    const key = dumped.lines.at(-1)!;
    expect(key).toMatch(/^dev\/default\/none\/\d{4}(-\d{2}){5}-\d{6}\.dump$/);
    // The dump and its sidecar manifest (written after the dump committed); ls shows only the dump.
    expect((await objectsUnder(bucket, 'roundtrip/')).sort()).toEqual([`roundtrip/${key}`, `roundtrip/${key}.manifest.json`]);
    expect((await runCli(['ls', '-s', location], { cwd, env: env(small) })).lines).toEqual([key]);

    await sql(small, 'DELETE FROM t WHERE id > 10');
    const restored = await runCli(['restore', 'dev', '-s', location], { cwd, env: env(small) });
    expect(restored.code, restored.stderr).toBe(0);
    expect(await sql(small, 'SELECT count(*)::int AS n FROM t')).toEqual([{ n: 100 }]);
    expect(dumped.stderr + restored.stderr).not.toMatch(/NodeVersionSupportWarning|S3RVER/);
  });

  it('keeps the AWS SDK quiet in the Knex and Prisma bins too', async () => {
    const location = `s3://${bucket}/adapter-bins/`;
    const dir = project({ s3: s3Settings({ endpoint: proxy.endpoint }) });
    writeFileSync(path.join(dir, 'knexfile.js'), "module.exports = { client: 'pg', connection: process.env.DATABASE_URL };\n");
    mkdirSync(path.join(dir, 'prisma'));
    writeFileSync(
      path.join(dir, 'prisma/schema.prisma'),
      'datasource db {\n  provider = "postgresql"\n  url      = env("DATABASE_URL")\n}\n',
    );
    const knexDump = await runCli(['dump', '-s', location], { cwd: dir, env: env(small), bin: KNEX_PGCLONE_BIN });
    expect(knexDump.code, knexDump.stderr).toBe(0);
    const prismaLs = await runCli(['ls', '-s', location], { cwd: dir, env: env(small), bin: PRISMA_PGCLONE_BIN });
    expect(prismaLs.code, prismaLs.stderr).toBe(0);
    expect(prismaLs.lines).toEqual([knexDump.lines.at(-1)]);
    expect(knexDump.stderr + prismaLs.stderr).not.toMatch(/NodeVersionSupportWarning|Node\.js version/);
  });

  it('dump and doctor look for unfinished multipart uploads, quietly where the service cannot list them (s3rver)', async () => {
    const location = `s3://${bucket}/unfinished/`;
    const seen = proxy.requests.length;
    const dumped = await runCli(['dump', '-s', location], { cwd, env: env(small) });
    expect(dumped.code, dumped.stderr).toBe(0);
    const doctor = await runCli(['doctor', '-s', location], { cwd, env: env(small) });
    expect(doctor.code, doctor.stdout + doctor.stderr).toBe(0);
    const listings = proxy.requests.slice(seen).filter((line) => new RegExp(`^GET /${bucket}/?\\?(.*&)?uploads(=|&|$)`).test(line));
    expect(listings.length).toBeGreaterThanOrEqual(2); // one before the dump, one for doctor
    expect(dumped.stderr + doctor.stderr).not.toMatch(/ListMultipartUploads|Could not clean up/);
  });

  it('seeds a local database from prod\'s dump with a named config holding the S3 location', async () => {
    // Production dumps with its own instance name to the company bucket…
    const prod = `${prefix}_prod`;
    await createDatabase(prod);
    await sql(prod, 'CREATE TABLE customers (id int, name text); INSERT INTO customers VALUES (1, \'Ada\'), (2, \'Grace\')');
    const dumped = await runCli(['dump', '-c', 'prod', '--instance', 'prod'], { cwd, env: env(prod) });
    expect(dumped.code, dumped.stderr).toBe(0);
    expect(dumped.lines.at(-1)).toMatch(/^prod\/default\/prod\//);
    // …and a laptop with an empty local database restores the newest one by prefix.
    const laptop = `${prefix}_laptop`;
    await createDatabase(laptop);
    const restored = await runCli(['restore', 'prod/default/prod', '-c', 'prod'], { cwd, env: env(laptop) });
    expect(restored.code, restored.stderr).toBe(0);
    expect(await sql(laptop, 'SELECT name FROM customers ORDER BY id')).toEqual([{ name: 'Ada' }, { name: 'Grace' }]);
  });

  it('does not call a dump corrupt when its manifest cannot be read (ls --long, doctor)', async () => {
    const location = `s3://${bucket}/unreadable/`;
    const dumped = await runCli(['dump', '-s', location], { cwd, env: env(small) });
    expect(dumped.code, dumped.stderr).toBe(0);
    // The listing answers; every read of a manifest has its connection reset (all the SDK's attempts).
    const broken = await startS3Proxy();
    try {
      broken.reset(/manifest\.json/, 1000);
      const dir = project({ s3: s3Settings({ endpoint: broken.endpoint }) });
      const unreachable = `pgclone: error: Cannot reach the S3 endpoint ${broken.endpoint} for bucket "${bucket}" (ECONNRESET after 3 attempts)`;
      const long = await runCli(['ls', '--long', '-s', location], { cwd: dir, env: env(small) });
      expect(long.stdout).not.toMatch(/CORRUPT/);
      expect(long.code, long.stdout + long.stderr).toBe(1);
      expect(long.stderr.trim().split('\n').at(-1)).toBe(unreachable);
      const doctor = await runCli(['doctor', '-s', location], { cwd: dir, env: env(small) });
      expect(doctor.stdout + doctor.stderr).not.toMatch(/restore refuses it|"pgclone rm" deletes it/);
      expect(doctor.code).toBe(1);
      expect(doctor.stderr.trim().split('\n').at(-1)).toBe(unreachable);
    } finally {
      await broken.close();
    }
  });

  it('doctor --verify names a dump whose bytes were changed after it was written', async () => {
    const location = `s3://${bucket}/changed/`;
    const dumped = await runCli(['dump', '-s', location], { cwd, env: env(small) });
    expect(dumped.code, dumped.stderr).toBe(0);
    const key = dumped.lines.at(-1)!;
    const client = s3Client();
    try {
      const stored = Buffer.from(await (await client.send(new GetObjectCommand({ Bucket: bucket, Key: `changed/${key}` }))).Body!.transformToByteArray());
      stored[stored.length - 10] ^= 0xff; // same size, one byte changed
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: `changed/${key}`, Body: stored }));
    } finally {
      client.destroy();
    }
    expect((await runCli(['ls', '--long', '-s', location], { cwd, env: env(small) })).stdout).toMatch(/verified/); // the size still matches
    const doctor = await runCli(['doctor', '--verify', '-s', location], { cwd, env: env(small) });
    expect(doctor.code).toBe(1);
    expect(doctor.stdout + doctor.stderr).toMatch(new RegExp(`${key.replace(/[.]/g, '\\.')}: Dump \\S+ does not match its manifest's sha256 .*restore refuses it`));
  });

  it('ls --long reads the manifests of many dumps side by side, not one round trip after another', async () => {
    const keys = Array.from({ length: 40 }, (_, i) => `dev/default/none/2025-01-01-00-00-${String(i).padStart(2, '0')}-000000.dump`);
    seedObjects(bucket, keys.flatMap((key) => [`manifests/${key}`, `manifests/${key}.manifest.json`]));
    // A far-away service: each manifest request (HEAD, then GET) takes 250 ms; read one after another, at most one
    // of them is ever on its way (40 dumps: 20 s or more).
    const far = await startS3Proxy();
    try {
      far.delay(/manifest\.json/, 250);
      const dir = project({ s3: s3Settings({ endpoint: far.endpoint }) });
      const listed = await runCli(['ls', '--long', '-s', `s3://${bucket}/manifests/`], { cwd: dir, env: env(small) });
      expect(listed.code, listed.stderr).toBe(0);
      expect(listed.lines).toHaveLength(40);
      expect(far.mostDelayedAtOnce).toBeGreaterThan(4);
    } finally {
      await far.close();
    }
    // doctor reads them the same way (a verify, which downloads every dump, reads one at a time).
    const far2 = await startS3Proxy();
    try {
      far2.delay(/manifest\.json/, 250);
      const dir = project({ s3: s3Settings({ endpoint: far2.endpoint }) });
      const doctor = await runCli(['doctor', '-s', `s3://${bucket}/manifests/`], { cwd: dir, env: env(small) });
      // The seeded manifests are not JSON: each of the 40 dumps is a problem, read side by side all the same.
      expect(doctor.code, doctor.stderr).toBe(1);
      expect((doctor.stdout + doctor.stderr).match(/restore refuses it/g)).toHaveLength(40);
      expect(far2.mostDelayedAtOnce).toBeGreaterThan(4);
    } finally {
      await far2.close();
    }
  });

  it('streams a dump of more than three parts up and back down', async () => {
    const location = `s3://${bucket}/big/`;
    const before = proxy.requests.length;
    const dumped = await runCli(['dump', '-s', location], { cwd, env: env(big) });
    expect(dumped.code, dumped.stderr).toBe(0);
    const key = dumped.lines.at(-1)!;
    const requests = proxy.requests.slice(before);
    const parts = requests.filter((r) => r.startsWith('PUT ') && r.includes('partNumber='));
    expect(parts.length).toBeGreaterThan(3);
    expect(requests.filter((r) => /^POST .*\?uploadId=/.test(r))).toHaveLength(1); // CompleteMultipartUpload

    const copy = `${prefix}_bigcopy`;
    await createDatabase(copy);
    const restored = await runCli(['restore', key, '-s', location], { cwd, env: env(copy) });
    expect(restored.code, restored.stderr).toBe(0);
    expect(await checksum(copy)).toEqual(await checksum(big));
  });

  async function dumpStalledAt(location: string, interrupt: (cli: ChildProcess) => void) {
    const held = proxy.hold(new RegExp(`^PUT /${bucket}/${location}/.*partNumber=1&`));
    let cli: ChildProcess | undefined;
    const run = runCli(['dump', '-s', `s3://${bucket}/${location}/`], { cwd, env: env(big), onSpawn: (c) => (cli = c) });
    await held;
    // The first part is stuck in the proxy and pg_dump is blocked on a full pipe, half-way through the database.
    interrupt(cli!);
    proxy.release();
    const result = await run;
    expect(result.code).not.toBe(0);
    expect(result.lines).toEqual([]);
    // The multipart upload was never completed, an abort was sent, and no object exists under the prefix.
    const requests = proxy.requests.filter((r) => r.includes(`/${location}/`));
    expect(requests).toContainEqual(expect.stringMatching(/^DELETE .*\.dump\?uploadId=/));
    expect(requests.filter((r) => /^POST .*\?uploadId=/.test(r))).toEqual([]);
    expect(await objectsUnder(bucket, `${location}/`)).toEqual([]);
    // s3rver refuses AbortMultipartUpload (405): pgclone says so, and which lifecycle rule cleans up.
    expect(result.stderr).toMatch(/warning.*does not support AbortMultipartUpload.*AbortIncompleteMultipartUpload lifecycle rule/i);
    return result;
  }

  it('aborts the multipart upload and stores nothing when pg_dump dies midway', async () => {
    const result = await dumpStalledAt('killed', (cli) => {
      const pgDump = childPid(cli.pid!, 'pg_dump');
      expect(pgDump).toBeDefined();
      process.kill(pgDump!, 'SIGKILL');
    });
    expect(result.stderr).toMatch(/pgclone: error: pg_dump of \S+ failed \(signal SIGKILL\)/);
  });

  it('aborts the multipart upload and stores nothing when interrupted', async () => {
    const result = await dumpStalledAt('interrupted', (cli) => cli.kill('SIGINT'));
    expect(result.stderr).toMatch(/pgclone: error: Dump of \S+ interrupted; nothing was stored/);
  });

  it('says the dump is stored and complete when Ctrl-C comes as the upload completes', async () => {
    // CompleteMultipartUpload cannot be taken back: the dump used to end with exit 0 and its key after "SIGINT
    // received, stopping and cleaning up", leaving the user to guess whether anything was stored.
    const location = 'completing';
    const held = proxy.hold(new RegExp(`^POST /${bucket}/${location}/.*\\?uploadId=`));
    let cli: ChildProcess | undefined;
    const run = runCli(['dump', '-s', `s3://${bucket}/${location}/`], { cwd, env: env(big), onSpawn: (c) => (cli = c) });
    await held;
    cli!.kill('SIGINT');
    // The CLI has seen the signal (its warning is on stderr) before the completion goes through.
    await new Promise<void>((resolve) => {
      let text = '';
      cli!.stderr!.on('data', (d: Buffer) => (text += d).includes('SIGINT received') && resolve());
    });
    proxy.release();
    const result = await run;
    expect(result.code, result.stderr).toBe(0);
    const key = result.lines.at(-1)!;
    expect(result.stderr).toContain(`warning: Interrupted too late to stop: the dump was already being stored, and ${key} is complete`);
    expect((await objectsUnder(bucket, `${location}/`)).sort()).toEqual([`${location}/${key}`, `${location}/${key}.manifest.json`]);
  });

  it('fails the dump when a part cannot be uploaded', async () => {
    proxy.reset(new RegExp(`^PUT /${bucket}/failpart/.*partNumber=2&`));
    const result = await runCli(['dump', '-s', `s3://${bucket}/failpart/`], { cwd, env: env(big) });
    expect(result.code).toBe(1);
    // (pg_dump's own last words may follow the error line.)
    expect(result.stderr).toMatch(
      new RegExp(`^pgclone: error: Cannot reach the S3 endpoint ${proxy.endpoint} for bucket "${bucket}" \\((ECONNRESET|EPIPE) after 3 attempts\\)$`, 'm'),
    );
    expect(proxy.requests).toContainEqual(expect.stringMatching(new RegExp(`^DELETE /${bucket}/failpart/.*\\?uploadId=`)));
    expect(await objectsUnder(bucket, 'failpart/')).toEqual([]);
  });

  it('lists 2,500 keys across pages, newest first, hiding what is not a dump key', async () => {
    const many = await createBucket('many');
    const base = Date.UTC(2026, 0, 1);
    const keys = Array.from({ length: 2500 }, (_, i) => {
      const stamp = new Date(base + i * 61_000).toISOString().replace(/[-T:]/g, '-').replace(/\.(\d{3})Z$/, '-$1000');
      return `inst${i % 7}/default/none/${stamp}.dump`;
    });
    // Through s3rver each PutObject costs 5–20 ms on two cores, so the bulk goes straight into its data folder (an
    // object there is just a `<key>._S3rver_object` file); the odd ones and one dump go through the SDK.
    seedObjects(many, keys.slice(1));
    const client = s3Client();
    const junk = ['inst1/default/none/notes.txt', 'inst1/default/none/2026-01-01.dump', 'README', 'inst1/default/none/x.dump.manifest.json', 'inst1/default/'];
    await Promise.all([keys[0]!, ...junk].map((k) => client.send(new PutObjectCommand({ Bucket: many, Key: k, Body: 'x' }))));
    client.destroy();

    const before = proxy.requests.length;
    const listed = await runCli(['ls', '-s', `s3://${many}/`], { cwd, env: env(small) });
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.lines).toHaveLength(2500);
    expect(listed.lines).toEqual([...keys].reverse());
    const pages = proxy.requests.slice(before).filter((r) => r.startsWith(`GET /${many}`) && r.includes('list-type=2'));
    expect(pages.length).toBeGreaterThanOrEqual(3);
    expect(pages.filter((r) => r.includes('continuation-token=')).length).toBe(pages.length - 1);
  });

  describe.concurrent('clear one-line errors', () => {
    const lastLine = (text: string) => text.trim().split('\n').at(-1);

    it('names a missing bucket for ls, dump and restore', async () => {
      const missing = uniqueBucket('missing');
      const expected = `pgclone: error: Bucket "${missing}" does not exist at ${proxy.endpoint}`;
      for (const args of [['ls'], ['dump'], ['restore', 'dev']]) {
        const result = await runCli([...args, '-s', `s3://${missing}/pg/`], { cwd, env: env(small) });
        expect(result.code, args.join(' ')).toBe(1);
        expect(lastLine(result.stderr), args.join(' ')).toBe(expected);
        expect(result.stdout).toBe('');
      }
    });

    it('names a missing bucket for rm and pin', async () => {
      const missing = uniqueBucket('missing');
      const key = 'dev/default/none/2026-01-01-00-00-00-000000.dump';
      for (const args of [['rm', key], ['pin', key]]) {
        const result = await runCli([...args, '-s', `s3://${missing}/pg/`], { cwd, env: env(small) });
        expect(result.code, args.join(' ')).toBe(1);
        expect(lastLine(result.stderr), args.join(' ')).toBe(`pgclone: error: Bucket "${missing}" does not exist at ${proxy.endpoint}`);
      }
    });

    it('fails a dump to a missing bucket in one line, before pg_dump runs', async () => {
      const missing = uniqueBucket('missing');
      const dumped = await runCli(['dump', '-q', '-s', `s3://${missing}/pg/`], { cwd, env: env(small) });
      expect(dumped.code).toBe(1);
      expect(dumped.stderr).toBe(`pgclone: error: Bucket "${missing}" does not exist at ${proxy.endpoint}\n`);
      // Only the look for unfinished uploads reached the bucket: no upload was started.
      const requests = proxy.requests.filter((r) => r.includes(`/${missing}`));
      expect(requests.length).toBeGreaterThan(0);
      expect(requests.filter((r) => !/^GET [^?]*\?(.*&)?uploads(=|&|$)/.test(r))).toEqual([]);
    });

    it('says the access key was rejected when a HEAD answers 403 (restore by prefix, rm, pin)', async () => {
      const wrong = env(small, { AWS_ACCESS_KEY_ID: 'AKIAWRONGKEY0000TEST', AWS_SECRET_ACCESS_KEY: 'wrong-secret-0123456789' });
      const key = 'dev/default/none/2026-01-01-00-00-00-000000.dump';
      for (const args of [['restore', 'prod/default/none'], ['restore', key], ['rm', key], ['pin', key]]) {
        const result = await runCli([...args, '-s', `s3://${bucket}/roundtrip/`], { cwd, env: wrong });
        expect(result.code, args.join(' ')).toBe(1);
        expect(lastLine(result.stderr), args.join(' ')).toBe(
          `pgclone: error: The AWS access key ID was rejected at ${proxy.endpoint} for bucket "${bucket}" (InvalidAccessKeyId): check AWS_ACCESS_KEY_ID or the profile`,
        );
      }
    });

    it('names an unreachable endpoint and keeps its password out', async () => {
      const port = await freePort();
      const dir = project({ s3: s3Settings({ endpoint: `http://backup:hunter2-secret@127.0.0.1:${port}` }) });
      const result = await runCli(['ls', '-s', `s3://${bucket}/pg/`], { cwd: dir, env: env(small) });
      expect(result.code).toBe(1);
      expect(result.stderr).toBe(`pgclone: error: Cannot reach the S3 endpoint http://127.0.0.1:${port} for bucket "${bucket}" (ECONNREFUSED after 3 attempts)\n`);
    });

    it('names the host a virtual-hosted-style request could not reach, and says how to use path-style URLs', async () => {
      // `.invalid` never resolves (RFC 6761): the endpoint's host as much as the bucket's subdomain of it.
      const endpoint = 'http://s3.pgclone-test.invalid:9000';
      const virtual = await runCli(['ls', '-s', `s3://${bucket}/pg/`], { cwd: project({ s3: s3Settings({ endpoint, forcePathStyle: undefined }) }), env: env(small) });
      expect(virtual.code).toBe(1);
      expect(virtual.stderr).toBe(
        `pgclone: error: Cannot reach the S3 endpoint ${endpoint} for bucket "${bucket}" at ${bucket}.s3.pgclone-test.invalid (ENOTFOUND after 3 attempts): ` +
          'virtual-hosted-style URLs put the bucket in the host name; set "s3.forcePathStyle": true in the pgclone config for a service that wants path-style URLs (MinIO and most self-hosted ones)\n',
      );
      const pathStyle = await runCli(['ls', '-s', `s3://${bucket}/pg/`], { cwd: project({ s3: s3Settings({ endpoint }) }), env: env(small) });
      expect(pathStyle.code).toBe(1);
      expect(pathStyle.stderr).toBe(`pgclone: error: Cannot reach the S3 endpoint ${endpoint} for bucket "${bucket}" (ENOTFOUND after 3 attempts)\n`);
    });

    it('says when the access key is rejected or there are no credentials, printing neither key', async () => {
      const rejected = await runCli(['ls', '-s', `s3://${bucket}/pg/`], {
        cwd,
        env: env(small, { AWS_ACCESS_KEY_ID: 'AKIAWRONGKEY0000TEST', AWS_SECRET_ACCESS_KEY: 'wrong-secret-0123456789' }),
      });
      expect(rejected.code).toBe(1);
      expect(rejected.stderr).toBe(
        `pgclone: error: The AWS access key ID was rejected at ${proxy.endpoint} for bucket "${bucket}" (InvalidAccessKeyId): check AWS_ACCESS_KEY_ID or the profile\n`,
      );
      const none = await runCli(['ls', '-s', `s3://${bucket}/pg/`], { cwd, env: env(small, { AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined }) });
      expect(none.code).toBe(1);
      expect(lastLine(none.stderr)).toMatch(new RegExp(`^pgclone: error: No usable AWS credentials for bucket "${bucket}" .*AWS_PROFILE or "s3.profile" in the pgclone config$`));
    });

    it('takes credentials from a named profile of the shared AWS files (s3.profile)', async () => {
      const dir = project({ s3: s3Settings({ endpoint: proxy.endpoint, profile: 'pgclone-test' }) });
      writeFileSync(path.join(dir, 'credentials'), `[pgclone-test]\naws_access_key_id = ${s3().accessKeyId}\naws_secret_access_key = ${s3().secretAccessKey}\n`);
      writeFileSync(path.join(dir, 'config'), '[profile pgclone-test]\nregion = us-east-1\n');
      const result = await runCli(['ls', '-s', `s3://${bucket}/roundtrip/`], {
        cwd: dir,
        env: env(small, {
          AWS_ACCESS_KEY_ID: undefined,
          AWS_SECRET_ACCESS_KEY: undefined,
          AWS_SHARED_CREDENTIALS_FILE: path.join(dir, 'credentials'),
          AWS_CONFIG_FILE: path.join(dir, 'config'),
        }),
      });
      expect(result.code, result.stderr).toBe(0);
    });

    it("says why a profile's credential_process failed, in one line and without its command", async () => {
      // The SDK's own error is only "Could not load credentials from any providers": the user had to guess whether
      // the profile was missing, the program broken, or its session expired.
      const dir = project({ s3: s3Settings({ endpoint: proxy.endpoint }) });
      writeFileSync(
        path.join(dir, 'config'),
        `[profile pgclone-sso]\ncredential_process = sh -c "echo 'the SSO session has expired' >&2; exit 3" --token=hunter2-process\n` +
          '[profile pgclone-json]\ncredential_process = echo not-json\n',
      );
      const files = { AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, AWS_SHARED_CREDENTIALS_FILE: path.join(dir, 'none'), AWS_CONFIG_FILE: path.join(dir, 'config') };
      const expired = await runCli(['ls', '-q', '-s', `s3://${bucket}/pg/`], { cwd: dir, env: env(small, { ...files, AWS_PROFILE: 'pgclone-sso' }) });
      expect(expired.code).toBe(1);
      expect(expired.stderr).toBe(
        `pgclone: error: No usable AWS credentials for bucket "${bucket}" from profile "pgclone-sso" ` +
          "(credential_process failed: the SSO session has expired): check the profile's credential_process\n",
      );
      const json = await runCli(['ls', '-q', '-s', `s3://${bucket}/pg/`], { cwd: dir, env: env(small, { ...files, AWS_PROFILE: 'pgclone-json' }) });
      expect(json.stderr).toContain('(Profile pgclone-json credential_process returned invalid JSON.)');
    });

    it('names the endpoint from AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL, with us-east-1 as the region, never its password', async () => {
      const dir = project({ s3: { forcePathStyle: true } });
      const viaS3 = await runCli(['ls', '-s', `s3://${bucket}/via-env/`], {
        cwd: dir,
        env: env(small, { AWS_ENDPOINT_URL_S3: proxy.endpoint }),
      });
      expect(viaS3.code, viaS3.stderr).toBe(0);
      expect(proxy.requests).toContainEqual(expect.stringMatching(new RegExp(`^GET /${bucket}/?\\?.*prefix=via-env`)));
      const missing = uniqueBucket('missing');
      const viaAny = await runCli(['ls', '-s', `s3://${missing}/pg/`], {
        cwd: dir,
        env: env(small, { AWS_ENDPOINT_URL: proxy.endpoint.replace('//', '//backup:hunter2-env@') }),
      });
      expect(viaAny.code).toBe(1);
      expect(viaAny.stderr).toBe(`pgclone: error: Bucket "${missing}" does not exist at ${proxy.endpoint}\n`);
      const port = await freePort();
      const unreachable = await runCli(['ls', '-s', `s3://${bucket}/pg/`], {
        cwd: dir,
        env: env(small, { AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${port}` }),
      });
      expect(unreachable.stderr).toBe(`pgclone: error: Cannot reach the S3 endpoint http://127.0.0.1:${port} for bucket "${bucket}" (ECONNREFUSED after 3 attempts)\n`);
    });

    it('turns the SDK\'s notice about a profile beside AWS_ACCESS_KEY_ID into one warning event, and names a missing profile', async () => {
      const dir = project({ s3: s3Settings({ endpoint: proxy.endpoint, profile: 'pgclone-both' }) });
      writeFileSync(path.join(dir, 'credentials'), `[pgclone-both]\naws_access_key_id = ${s3().accessKeyId}\naws_secret_access_key = ${s3().secretAccessKey}\n`);
      const files = { AWS_SHARED_CREDENTIALS_FILE: path.join(dir, 'credentials'), AWS_CONFIG_FILE: path.join(dir, 'config') };
      const both = await runCli(['ls', '--json', '-s', `s3://${bucket}/pg/`], { cwd: dir, env: env(small, files) });
      expect(both.code, both.stderr).toBe(0);
      const events = both.stderr.split('\n').filter(Boolean).map((line) => JSON.parse(line) as { event: string; level?: string; message?: string });
      expect(events.filter((e) => e.level === 'warn')).toEqual([
        expect.objectContaining({ message: expect.stringMatching(/profile "pgclone-both" .*AWS_ACCESS_KEY_ID.*the AWS SDK uses the profile/) }),
      ]);

      const missing = project({ s3: s3Settings({ endpoint: proxy.endpoint, profile: 'pgclone-nope' }) });
      const result = await runCli(['ls', '-q', '-s', `s3://${bucket}/pg/`], { cwd: missing, env: env(small, files) });
      expect(result.code).toBe(1);
      expect(lastLine(result.stderr)).toMatch(/^pgclone: error: No usable AWS credentials for bucket "[^"]+" from profile "pgclone-nope" /);
      expect(result.stderr).not.toMatch(/Multiple credential sources/);
    });

    it('refuses s3: locations that do not parse, without writing a local directory', async () => {
      const dir = project({ s3: s3Settings({ endpoint: proxy.endpoint }) });
      for (const [args, location] of [[['ls'], 's3:dumps'], [['dump'], 's3:/dumps/pg/'], [['dump'], 'S3:dumps/pg/']] as const) {
        const result = await runCli([...args, '-s', location], { cwd: dir, env: env(small) });
        expect(result.code, location).toBe(1);
        expect(lastLine(result.stderr), location).toBe(
          `pgclone: error: Invalid storage location ${JSON.stringify(location)}: not an s3:// URL (expected s3://bucket/prefix/)`,
        );
        expect(result.stdout).toBe('');
      }
      expect(readdirSync(dir)).toEqual(['pgclone.config.json']);
    });

    it('keeps whatever comes before "@" out of messages about a bad location or endpoint', async () => {
      const located = await runCli(['ls', '-s', 's3://user:pw-secret-1@dumps/pg/'], { cwd, env: env(small) });
      expect(located.code).toBe(1);
      expect(located.stderr).toMatch(/Invalid storage location "s3:\/\/\*\*\*@dumps\/pg\/": .*user info/);
      const results = [located];
      for (const endpoint of ['backup:pw-secret-2@minio.internal:9000', 'http//backup:pw-secret-3@minio:9000', 'ftp://backup:pw-secret-4@minio:9000']) {
        const dir = project({ s3: { endpoint, forcePathStyle: true } });
        const result = await runCli(['ls', '-s', `s3://${bucket}/pg/`], { cwd: dir, env: env(small) });
        expect(result.code, endpoint).toBe(1);
        expect(lastLine(result.stderr), endpoint).toMatch(/s3\.endpoint: expected an http:\/\/ or https:\/\/ URL .*\(got "(ftp:\/\/)?\*\*\*@minio/);
        results.push(result);
      }
      // The SDK's own variable is not checked by pgclone's config, but it is shown the same way.
      const fromEnv = await runCli(['ls', '-s', `s3://${bucket}/pg/`], {
        cwd: project({ s3: { forcePathStyle: true } }),
        env: env(small, { AWS_ENDPOINT_URL_S3: 'backup:pw-secret-5@127.0.0.1:9', AWS_MAX_ATTEMPTS: '1' }),
      });
      expect(fromEnv.code).toBe(1);
      results.push(fromEnv);
      for (const result of results) expect(result.stdout + result.stderr).not.toMatch(/pw-secret/);
    });

    it('names a bad s3 setting', async () => {
      const dir = project({ s3: { partSize: '1MiB' } });
      const result = await runCli(['ls', '-s', `s3://${bucket}/pg/`], { cwd: dir, env: env(small) });
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/s3\.partSize: the S3 minimum part size is 5 MiB/);
    });
  });

  it('keeps the AWS SDK quiet through the API too, where a program prints what it likes', async () => {
    const scriptEnv = Object.fromEntries(Object.entries(env(small)).filter((e): e is [string, string] => e[1] !== undefined));
    const listed = await runScript(
      `import { ls } from 'pgclone';
       const keys = await ls(undefined, { storageLocation: 's3://${bucket}/quiet-api/', configFile: ${JSON.stringify(path.join(cwd, 'pgclone.config.json'))} });
       console.log(keys.length);
       console.log(process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ?? 'unset');`,
      scriptEnv,
    );
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stderr).toBe('');
    // The program's environment (and its children's) is left as it was.
    expect(listed.lines).toEqual(['0', 'unset']);
  });

  it('loads the AWS SDK only for s3:// locations', async () => {
    const record = path.join(mkdtempSync(path.join(os.tmpdir(), 'pgclone-imports-')), 'imports.txt');
    const recorder = fileURLToPath(new URL('./support/import-recorder.mjs', import.meta.url));
    const traced = (extra: Record<string, string | undefined> = {}) =>
      env(small, { NODE_OPTIONS: `--import=${recorder}`, RECORD_IMPORTS_FILE: record, RECORD_IMPORTS_MATCH: '@aws-sdk/', ...extra });
    const loaded = () => {
      try {
        return readFileSync(record, 'utf8');
      } catch {
        return '';
      }
    };
    expect((await runCli(['--help'], { cwd, env: traced() })).code).toBe(0);
    expect(loaded()).toBe('');
    expect((await runCli(['ls', '-s', `s3://${bucket}/pg/`], { cwd, env: traced() })).code).toBe(0);
    expect(loaded()).toMatch(/@aws-sdk\/client-s3/);
  });
});
