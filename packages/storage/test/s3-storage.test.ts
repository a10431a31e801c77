import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { openStorage, type Storage } from '@pgclone/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBucket, s3, s3Client, s3Settings, startS3Proxy, type S3Proxy } from '../../../test/support/s3.js';

const MIB = 1024 * 1024;

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe('S3 storage backend against s3rver', () => {
  let bucket: string;
  let proxy: S3Proxy;
  let storage: Storage;
  const data = randomBytes(12 * MIB + 12345);
  const savedEnv = { ...process.env };

  beforeAll(async () => {
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: s3().accessKeyId, AWS_SECRET_ACCESS_KEY: s3().secretAccessKey, AWS_EC2_METADATA_DISABLED: 'true' });
    bucket = await createBucket('backend');
    proxy = await startS3Proxy();
    // 5 MiB parts (S3's minimum): 12 MiB of data makes three parts.
    storage = await openStorage(`s3://${bucket}/team dumps+é=@/`, { s3: s3Settings({ endpoint: proxy.endpoint, partSize: 5 * MIB, queueSize: 2 }) });
  });
  afterAll(async () => {
    await proxy.close();
    process.env = savedEnv;
  });

  it('writes, lists, stats, reads ranges and deletes keys with every allowed character under an encoded prefix', async () => {
    expect(storage.display).toBe(`s3://${bucket}/team dumps+é=@/`);
    const key = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ/abcdefghijklmnopqrstuvwxyz/0123456789_-/2026-11-25-14-03-59-123456.dump';
    const writer = await storage.write(key, { expectedBytes: 1000 });
    await pipeline(Readable.from([data.subarray(0, 7 * MIB), data.subarray(7 * MIB)]), writer.stream);
    await writer.commit();

    expect((await storage.list('')).map((o) => [o.key, o.size])).toEqual([[key, data.length]]);
    expect((await storage.list('ABCDEFGHIJKLMNOPQRSTUVWXYZ/abc')).map((o) => o.key)).toEqual([key]);
    expect(await storage.list('abcdefghijklmnopqrstuvwxyz')).toEqual([]);
    const stat = await storage.stat(key);
    expect(stat?.size).toBe(data.length);
    expect(stat?.modified).toBeInstanceOf(Date);
    expect(await storage.stat('ABCDEFGHIJKLMNOPQRSTUVWXYZ/nothing.dump')).toBeUndefined();

    expect((await readAll(await storage.read(key))).equals(data)).toBe(true);
    expect((await readAll(await storage.read(key, { start: 0, end: 15 }))).equals(data.subarray(0, 16))).toBe(true);
    expect((await readAll(await storage.read(key, { start: data.length - 10 }))).equals(data.subarray(-10))).toBe(true);
    // Three parts went up, and the object was completed from them.
    expect(proxy.requests.filter((r) => r.startsWith('PUT ') && r.includes('partNumber=')).length).toBe(3);
    expect(proxy.requests).toContainEqual(expect.stringMatching(/^PUT \/[^?]+\/team%20dumps%2B%C3%A9%3D%40\/ABCDEFGHIJKLMNOPQRSTUVWXYZ\//));

    await storage.delete(key);
    await storage.delete(key); // a missing object is not an error
    expect(await storage.list('')).toEqual([]);
    await expect(storage.read(key)).rejects.toThrow(`Dump ${key} does not exist in s3://${bucket}/team dumps+é=@/`);
  });

  it('stores a small write with one PutObject, and nothing before commit()', async () => {
    const key = 'dev/default/none/2026-01-01-00-00-00-000001.dump';
    const writer = await storage.write(key);
    writer.stream.end(Buffer.from('PGDMP small'));
    await new Promise((resolve) => writer.stream.once('finish', resolve));
    await new Promise((resolve) => setTimeout(resolve, 200));
    // The input ended, but pg_dump's exit status is not known yet: nothing may appear under the key.
    expect(await storage.stat(key)).toBeUndefined();
    await writer.commit();
    expect((await readAll(await storage.read(key))).toString()).toBe('PGDMP small');
    await storage.delete(key);
  });

  it('abort() during commit() removes what the commit stored', async () => {
    const key = 'dev/default/none/2026-01-01-00-00-00-000005.dump';
    const writer = await storage.write(key);
    writer.stream.end(Buffer.from('PGDMP racing'));
    await new Promise((resolve) => writer.stream.once('finish', resolve));
    const committing = writer.commit().then(() => undefined, (e: Error) => e);
    await writer.abort(new Error('interrupted'));
    expect((await committing)?.message).toMatch(/aborted while it completed/);
    expect(await storage.stat(key)).toBeUndefined();
  });

  it('abort() after some parts sends AbortMultipartUpload and leaves no object', async () => {
    const key = 'dev/default/none/2026-01-01-00-00-00-000002.dump';
    const writer = await storage.write(key);
    writer.stream.write(data.subarray(0, 11 * MIB));
    await expect.poll(() => proxy.requests.filter((r) => r.includes(encodeURIComponent('000002.dump')) && r.includes('partNumber=')).length).toBe(2);
    writer.stream.end();
    // s3rver answers AbortMultipartUpload with 405; on AWS, MinIO or R2 this resolves quietly.
    await expect(writer.abort(new Error('pg_dump failed'))).rejects.toThrow(
      /does not support AbortMultipartUpload on s3:\/\/.*000002\.dump \(MethodNotAllowed\); its parts stay in the bucket until an AbortIncompleteMultipartUpload lifecycle rule removes them/,
    );
    expect(proxy.requests).toContainEqual(expect.stringMatching(/^DELETE \/.*000002\.dump\?uploadId=/));
    expect(proxy.requests.filter((r) => r.includes('000002.dump') && /^POST .*uploadId=/.test(r))).toEqual([]); // never completed
    expect(await storage.stat(key)).toBeUndefined();
    await expect(writer.commit()).rejects.toThrow();
  });

  it('fails the write when a part keeps failing, stops reading and aborts the upload', async () => {
    const key = 'dev/default/none/2026-01-01-00-00-00-000003.dump';
    proxy.reset(/000003\.dump\?partNumber=2&/);
    const writer = await storage.write(key);
    const source = Readable.from((function* () {
      for (let i = 0; i < 40; i++) yield data.subarray(0, MIB); // 40 MiB offered; the failure must stop it early
    })());
    let offered = 0;
    source.on('data', (chunk: Buffer) => (offered += chunk.length));
    const error = await pipeline(source, writer.stream).then(() => undefined, (e: Error) => e);
    expect(error?.message).toMatch(/^Cannot reach the S3 endpoint http:\/\/127\.0\.0\.1:\d+ for bucket "backend-[0-9a-f]+" \((ECONNRESET|EPIPE)( after 3 attempts)?\)$/);
    expect(offered).toBeLessThan(40 * MIB);
    await expect(writer.abort(error)).rejects.toThrow(/AbortMultipartUpload/);
    expect(proxy.requests).toContainEqual(expect.stringMatching(/^DELETE \/.*000003\.dump\?uploadId=/));
    expect(await storage.stat(key)).toBeUndefined();
  });

  it('resumes a download whose connection breaks half-way', async () => {
    const key = 'dev/default/none/2026-01-01-00-00-00-000004.dump';
    const client = s3Client();
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: `team dumps+é=@/${key}`, Body: data }));
    client.destroy();
    proxy.cut(/^GET .*000004\.dump/, 3 * MIB, 2);
    const got = await readAll(await storage.read(key));
    expect(got.length).toBe(data.length);
    expect(got.equals(data)).toBe(true);
    expect(proxy.requests.filter((r) => r.startsWith('GET ') && r.includes('000004.dump')).length).toBe(3);
  });

  it('lists raw keys only under the prefix, hiding folder markers and unsafe keys', async () => {
    const client = s3Client();
    const put = (k: string) => client.send(new PutObjectCommand({ Bucket: bucket, Key: k, Body: 'x' }));
    // (s3rver cannot store `a//b` keys and stores `a/../b` as `b`, `a/./b` as `a/b`; real services keep them as they are.)
    const keys = ['outside.dump', 'x/', 'x/a\\b.dump', 'x/tab\there.dump', 'x/z.dump.manifest.json', 'x/z.dump'];
    await Promise.all([keys[0]!, ...keys.slice(1).map((k) => `team dumps+é=@/${k}`)].map(put));
    client.destroy();
    expect((await storage.list('x')).map((o) => o.key).sort()).toEqual(['x/z.dump', 'x/z.dump.manifest.json']);
  });

  it('leaves pending uploads only where s3rver keeps them', () => {
    // s3rver cannot abort (405), so its data folder still holds the parts of the aborted uploads above; AWS, MinIO
    // and R2 drop them on AbortMultipartUpload. This pins down where the test server keeps them.
    const uploads = path.join(s3().directory, bucket, '._S3rver_uploads');
    expect(existsSync(uploads) && readdirSync(uploads).length).toBeGreaterThan(0);
  });
});
