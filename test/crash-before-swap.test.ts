import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './support/cli.js';
import { crash, crashWorkspace, makeDump, NEW, OLD, type Scenario } from './support/crash.js';
import { dropDatabases, sql, uniqueName } from './support/pg.js';

// SIGKILL right after each restore step up to the swap (see support/crash.ts for what is checked after each kill).

const PREFIX = uniqueName('crasha');
const ws = crashWorkspace(PREFIX);
const outcomes: string[] = [];
let key: string;

beforeAll(async () => {
  key = await makeDump(ws, `${PREFIX}_src`, NEW.t);
});
afterAll(async () => {
  console.log(`crash outcomes (before the swap):\n${outcomes.join('\n')}`);
  await dropDatabases(PREFIX);
});

const run = (s: Omit<Scenario, 'prefix' | 'ws' | 'key' | 'fresh'>) => async () => {
  outcomes.push(await crash({ prefix: PREFIX, ws, key, fresh: NEW, ...s }));
};

describe('SIGKILL after each restore step before the swap', () => {
  it('lock', run({ step: 'lock' }));
  it('resolve', run({ step: 'resolve' }));
  it('verify', run({ step: 'verify' }));
  it('create-temp', run({ step: 'create-temp' }));
  it('settings', run({ step: 'settings' }));
  it('snapshot-post (reversible)', run({ step: 'snapshot-post', reversible: true }));
  it('pre-swap-hooks (a hook that sleeps)', run({ step: 'pre-swap-hooks', args: ['--pre-swap-hook', 'sleep 30'] }));
  it('swap, reversible, with earlier restore points to replace', run({ step: 'swap', reversible: true, before: earlierRestorePoints }));
});

/** A first reversible restore, then the old rows back: the run under test replaces existing :pre and :post. */
async function earlierRestorePoints(db: string): Promise<void> {
  const first = await runCli(['restore', key, '--reversible'], { cwd: ws.cwd, env: ws.envFor(db) });
  expect(first.code, first.stderr).toBe(0);
  await sql(db, `DELETE FROM t WHERE id > ${OLD.t}; UPDATE t SET v = 'old'; DELETE FROM u WHERE id > ${OLD.u}; UPDATE u SET v = 'old'`);
}
