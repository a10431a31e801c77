import pg from 'pg';
import { pgClientConfig, sslmodeOf, type Connection } from '../connection.js';

/**
 * A connected node-pg client for `conn` (see {@link pgClientConfig}), with libpq's fallbacks that node-pg lacks:
 * `sslmode=prefer` connects without TLS to a server that has none, and `sslmode=allow` connects with TLS to a server
 * that refuses a connection without it (`28000`, no pg_hba.conf entry for it), as pg_dump and pg_restore do with the
 * same settings. Any other failure is thrown as it is. The client ignores `error` events (a terminated session
 * surfaces as its next query's failure).
 */
export async function connectClient(conn: Connection, extra: pg.ClientConfig = {}, env: NodeJS.ProcessEnv = process.env): Promise<pg.Client> {
  let passfileIgnored: string | undefined;
  const config: pg.ClientConfig = { ...pgClientConfig(conn, env, (reason) => (passfileIgnored = reason)), ...extra };
  // node-pg's error for a server that wants a password when none was given is about SASL's internals ("client password
  // must be a string"): noted here, to say so plainly.
  let noPassword = false;
  const lookUp = config.password;
  if (typeof lookUp === 'function') {
    config.password = async () => {
      const password = await lookUp();
      if (password === undefined) noPassword = true;
      return password;
    };
  }
  const plain: pg.ClientConfig = { ...config, ssl: false };
  const mode = sslmodeOf(conn, env);
  // Each attempt but the last says which failure sends it on to the next.
  const attempts: Array<{ config: pg.ClientConfig; fallBack?: (error: unknown) => boolean }> =
    mode === 'prefer'
      ? [{ config, fallBack: (e) => /does not support SSL/.test((e as Error)?.message ?? '') }, { config: plain }]
      : mode === 'allow'
        ? [{ config: plain, fallBack: (e) => (e as { code?: string })?.code === '28000' }, { config }]
        : [{ config }];
  for (const attempt of attempts) {
    const client = new pg.Client(attempt.config);
    client.on('error', () => {});
    try {
      await client.connect();
      return client;
    } catch (error) {
      await client.end().catch(() => {});
      if (noPassword) {
        const why = passfileIgnored ? `: the ${passfileIgnored}` : '';
        throw new Error(`the server asks for a password, and none was given (in the URL, PGPASSWORD, or a password file such as ~/.pgpass)${why}`, { cause: error });
      }
      if (!attempt.fallBack?.(error)) throw error;
    }
  }
  throw new Error('unreachable: the last attempt has no fallBack');
}
