import { statfs } from 'node:fs/promises';
import { formatBytes } from '../format.js';
import type { Reporter } from '../events.js';
import type { Admin } from './admin.js';

/**
 * How `CREATE DATABASE … TEMPLATE` copies: `WAL_LOG` (PostgreSQL 15+'s default) writes every block of the template
 * into the WAL, so its time grows with the size; `FILE_COPY` copies the files after a checkpoint, a cost that is
 * about constant, but its checkpoint first flushes whatever the cluster has dirty. Measured here (PG 15, fsync on):
 * after another database's update left ~50 MB dirty, 12 MB — WAL_LOG 0.28–0.36 s, FILE_COPY 0.42–0.49 s; 42 MB — about
 * even; right after a checkpoint FILE_COPY wins at every size (12 MB 0.21–0.25 s against 0.26–0.29 s); 330 MB —
 * 1.2–4 s vs 0.7–2.4 s. So small templates use WAL_LOG and the rest FILE_COPY.
 *
 * PostgreSQL 18's `file_copy_method = clone` makes FILE_COPY share the files' blocks where the filesystem can (Linux:
 * `copy_file_range`, which reflinks on Btrfs, XFS and bcachefs; macOS: `copyfile`'s clone, on APFS), and there a copy
 * takes a fraction of the time: PG 18.4 here, XFS, 4 alternating rounds, 869 MB 0.17 s against 0.84–0.90 s, 330 MB
 * 0.18 s against 0.45–0.48 s. Elsewhere `copy_file_range` copies the bytes in the kernel, no faster: on ext4 0.60–0.64 s
 * against 0.51–0.55 s, and 0.94–1.05 s against 0.73–1.05 s. So `auto` clones only where it knows the blocks are
 * shared: {@link cloneSharing}.
 */

/** The `copyStrategy` option: `auto` chooses by size; the others force a method. */
export type CopyStrategyOption = 'auto' | 'wal_log' | 'file_copy' | 'clone';

/** What a copy uses: the `STRATEGY` clause, and whether `file_copy_method = clone` is set for it. */
export interface CopyMethod {
  strategy?: 'FILE_COPY' | 'WAL_LOG';
  clone: boolean;
}

/** Templates at least this large are copied with FILE_COPY under `auto`. */
export const FILE_COPY_MIN_BYTES = 32 * 1024 * 1024;

/** Whether a clone on the server would share the template's blocks, and why pgclone thinks so (for its messages). */
export interface CloneSharing {
  shares: boolean;
  why: string;
}

/** Linux `statfs` magic numbers of filesystems whose `copy_file_range` shares blocks (reflinks). */
const SHARING_FILESYSTEMS = new Map([
  [0x9123683e, 'btrfs'],
  [0x58465342, 'xfs'],
  [0xca451a4e, 'bcachefs'],
]);
/** Others, for the message that says why a copy is not cloned. */
const OTHER_FILESYSTEMS = new Map([
  [0xef53, 'ext4'],
  [0x01021994, 'tmpfs'],
  [0x794c7630, 'overlayfs'],
  [0x2fc12fc1, 'zfs'],
  [0x6969, 'nfs'],
]);

/**
 * Whether a clone would share blocks. Pure: `serverVersion` is the server's `version()` (which names its platform),
 * `local` whether it runs on this machine, `fsType` the `statfs` type of the template's directory as seen from here
 * (undefined when it could not be read). A macOS server clones on APFS, every Mac's filesystem (elsewhere its clone
 * fails and is retried as a file copy). A Linux server shares blocks on Btrfs, XFS (reflink, mkfs.xfs's default since
 * 2019) and bcachefs; its filesystem can only be seen when it is on this machine.
 */
export function cloneSharing(facts: { serverVersion: string; local: boolean; fsType: number | undefined }): CloneSharing {
  if (/apple-darwin/i.test(facts.serverVersion)) return { shares: true, why: 'macOS shares the blocks' };
  if (!facts.local) return { shares: false, why: 'not cloned, as the server is elsewhere and its filesystem unknown' };
  if (facts.fsType === undefined) return { shares: false, why: "not cloned, as the data directory's filesystem is unknown" };
  const sharing = SHARING_FILESYSTEMS.get(facts.fsType);
  if (sharing) return { shares: true, why: `${sharing} shares the blocks` };
  const name = OTHER_FILESYSTEMS.get(facts.fsType) ?? `filesystem 0x${facts.fsType.toString(16)}`;
  return { shares: false, why: `not cloned, as ${name} would copy the blocks anyway` };
}

/**
 * Decides the copy method. Pure: `size` of the template, `serverMajor`, whether the server can clone, and whether a
 * clone would share blocks (`auto` clones only then; without it, never).
 */
export function chooseCopyMethod(input: {
  option: CopyStrategyOption;
  size: number;
  serverMajor: number;
  canClone: boolean;
  sharing?: CloneSharing;
}): { method: CopyMethod; notice?: string } {
  const { option, serverMajor, canClone } = input;
  // Before PostgreSQL 15 there is only the file copy, and no STRATEGY clause.
  if (serverMajor < 15) {
    return {
      method: { clone: false },
      ...(option === 'wal_log' ? { notice: `copyStrategy wal_log needs PostgreSQL 15 or newer (the server is ${serverMajor}): copying files instead` } : {}),
    };
  }
  switch (option) {
    case 'wal_log':
      return { method: { strategy: 'WAL_LOG', clone: false } };
    case 'file_copy':
      return { method: { strategy: 'FILE_COPY', clone: false } };
    case 'clone':
      return canClone
        ? { method: { strategy: 'FILE_COPY', clone: true } }
        : {
            method: { strategy: 'FILE_COPY', clone: false },
            notice: `copyStrategy clone needs PostgreSQL 18's file_copy_method = clone (the server is ${serverMajor}${serverMajor >= 18 ? ' without clone support' : ''}): using file_copy`,
          };
    case 'auto':
      if (input.size < FILE_COPY_MIN_BYTES) return { method: { strategy: 'WAL_LOG', clone: false } };
      return { method: { strategy: 'FILE_COPY', clone: canClone && input.sharing?.shares === true } };
  }
}

/** `FILE_COPY with file_copy_method = clone`, `WAL_LOG`, `the file copy` (before PostgreSQL 15). */
export function describeCopyMethod(method: CopyMethod): string {
  if (!method.strategy) return 'the file copy';
  return method.clone ? `${method.strategy} with file_copy_method = clone` : method.strategy;
}

/** Whether the server offers `file_copy_method = clone` (PostgreSQL 18+, built with copy_file_range or copyfile). */
export async function serverCanClone(admin: Admin): Promise<boolean> {
  if (admin.serverMajor < 18) return false;
  const rows = await admin
    .query<{ enumvals: string[] | null }>(`SELECT enumvals FROM pg_settings WHERE name = 'file_copy_method'`)
    .catch(() => []);
  return (rows[0]?.enumvals ?? []).some((v) => v.toLowerCase() === 'clone');
}

/**
 * Reads the facts of {@link cloneSharing}: the server's platform, and for a server on this machine the filesystem of
 * the template's tablespace (the data directory's, which needs superuser or pg_read_all_settings to be named).
 */
async function readCloneSharing(admin: Admin, template: string, local: boolean): Promise<CloneSharing> {
  const [row] = await admin
    .query<{ version: string; location: string | null }>(
      `SELECT version() AS version, CASE WHEN t.spcname = 'pg_default' THEN NULL ELSE pg_tablespace_location(t.oid) END AS location
         FROM pg_database d JOIN pg_tablespace t ON t.oid = d.dattablespace WHERE d.datname = $1`,
      [template],
    )
    .catch(() => []);
  let fsType: number | undefined;
  if (row && local) {
    const dir =
      row.location ||
      (await admin
        .query<{ dir: string }>(`SELECT current_setting('data_directory') AS dir`)
        .then((rows) => rows[0]?.dir)
        .catch(() => undefined));
    fsType = dir ? await statfs(dir).then((s) => Number(s.type), () => undefined) : undefined;
  }
  return cloneSharing({ serverVersion: row?.version ?? '', local, fsType });
}

/**
 * Copies `template` to `name` with the method `option` chooses for it. A clone that the server refuses (a setting it
 * does not allow to change, a filesystem that cannot clone) is retried as a plain file copy. `local`: whether the
 * server runs on this machine (its filesystem can then be seen).
 */
export async function copyDatabase(
  admin: Admin,
  name: string,
  template: string,
  option: CopyStrategyOption,
  reporter: Reporter,
  local: boolean,
): Promise<CopyMethod> {
  const size = option === 'auto' ? await admin.databaseSize(template) : 0;
  const canClone = option === 'auto' || option === 'clone' ? await serverCanClone(admin) : false;
  const sharing = option === 'auto' && canClone && size >= FILE_COPY_MIN_BYTES ? await readCloneSharing(admin, template, local) : undefined;
  const { method, notice } = chooseCopyMethod({ option, size, serverMajor: admin.serverMajor, canClone, ...(sharing ? { sharing } : {}) });
  if (notice) reporter.warn(notice);
  const why = option === 'auto' ? ` (${formatBytes(size)}, copyStrategy auto${sharing ? `: ${sharing.why}` : ''})` : '';
  reporter.info(`Copying ${template} with ${describeCopyMethod(method)}${why}`);
  if (method.clone) {
    try {
      await admin.query(`SET file_copy_method = clone`);
      await admin.createFromTemplate(name, template, method.strategy);
      return method;
    } catch (error) {
      reporter.warn(`Cloning ${template} failed (${(error as Error).message}); copying its files instead`);
    } finally {
      await admin.query(`RESET file_copy_method`).catch(() => {});
    }
  }
  await admin.createFromTemplate(name, template, method.strategy);
  return { ...method, clone: false };
}
