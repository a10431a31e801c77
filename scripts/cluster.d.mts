/** A throwaway PostgreSQL cluster on a free loopback port with scram-sha-256 password auth. */
export interface ClusterInfo {
  host: string;
  port: number;
  user: string;
  password: string;
  /** Directory of initdb, pg_ctl, pg_dump, … for the cluster's major version. */
  binDir: string;
  major: number;
  dataDir: string;
}
export function findPgBin(): string | undefined;
export function freePort(): Promise<number>;
export function startCluster(options?: { password?: string; settings?: Record<string, string> }): Promise<{
  info: ClusterInfo;
  stop: () => Promise<void>;
}>;
