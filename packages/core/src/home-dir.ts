import os from 'node:os';

/**
 * The user's home directory as `env` gives it (`HOME`), else the account's: where libpq's per-user files
 * (`~/.pgpass`, `~/.pg_service.conf`, `~/.postgresql/root.crt`) and pgclone's cache are looked for. An empty `HOME`
 * counts as none (a relative path would depend on the working directory).
 */
export function homeDir(env: NodeJS.ProcessEnv): string {
  return env.HOME || os.homedir();
}
