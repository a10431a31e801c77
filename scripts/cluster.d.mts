/** A throwaway PostgreSQL cluster on a free loopback port with scram-sha-256 password auth. */
export interface ClusterInfo {
  host: string;
  port: number;
  user: string;
  password: string;
  /** Directory of the server's programs (initdb, pg_ctl; with Debian's packages pg_dump & co. too). */
  binDir: string;
  major: number;
  dataDir: string;
}
export function findPgBin(): string | undefined;
export function freePort(): Promise<number>;
/** Starts a cluster of the newest installed server, or of the one in `binDir`. */
export function startCluster(options?: { password?: string; settings?: Record<string, string>; binDir?: string }): Promise<{
  info: ClusterInfo;
  stop: () => Promise<void>;
}>;
