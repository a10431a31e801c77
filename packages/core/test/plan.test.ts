import { describe, expect, it } from 'vitest';
import { describePlan, planRestore, readMark, restoredMark, selectRestoreHooks, RESTORED_COMMENT, type PlanAction, type RestorePlan } from '../src/plan/restore.js';

const dump = { kind: 'dump', key: 'dev/default/none/2026-01-01-00-00-00-000000.dump' } as const;
const plan = (existing: string[], extra: Partial<Parameters<typeof planRestore>[0]> = {}): RestorePlan =>
  planRestore({
    target: 'app',
    source: dump,
    reversible: false,
    preSwapHooks: [],
    postSwapHooks: [],
    state: { existing: new Set(existing) },
    ...extra,
  });
const steps = (p: RestorePlan) => p.steps.map((s) => s.step);
const actions = (p: RestorePlan, step: string): PlanAction[] => p.steps.find((s) => s.step === step)?.actions ?? [];
const drops = (p: RestorePlan) => p.steps.flatMap((s) => s.actions).filter((a) => a.kind === 'drop').map((a) => (a as { database: string }).database);

describe('planRestore', () => {
  it('restores a dump into N__temp, applies settings, then swaps and drops the old database', () => {
    const p = plan(['app']);
    expect(steps(p)).toEqual(['create-temp', 'restore', 'settings', 'swap', 'cleanup']);
    // Like the database it replaces: N's encoding, collation and tablespace.
    expect(actions(p, 'create-temp')).toEqual([{ kind: 'create-empty', database: 'app__temp', like: { database: 'app' } }]);
    expect(actions(p, 'restore')).toEqual([{ kind: 'pg-restore', key: dump.key, database: 'app__temp' }]);
    expect(actions(p, 'settings')[0]).toMatchObject({ from: 'archive', fallback: 'app', database: 'app__temp' });
    // Owner, privileges, role settings, comment: those of the live N, as a pg_restore into N keeps them.
    expect(actions(p, 'settings')[1]).toEqual({ kind: 'apply-properties', database: 'app__temp', from: { database: 'app' } });
    // Last before the hooks: only a complete N__temp may be resumed.
    expect(actions(p, 'settings').at(-1)).toEqual({ kind: 'mark-restored', database: 'app__temp' });
    expect(actions(p, 'swap')).toEqual([
      { kind: 'block', database: 'app' },
      { kind: 'swap', renames: [['app', 'app__swap'], ['app__temp', 'app']], allowConnections: [], restoreComments: [['app', 'app__temp']] },
    ]);
    expect(actions(p, 'cleanup')).toEqual([{ kind: 'drop', database: 'app__swap', reason: expect.any(String) }]);
  });

  it('plans a first restore into a database that does not exist: no block, no fallback settings, one rename', () => {
    const p = plan([]);
    expect(steps(p)).toEqual(['create-temp', 'restore', 'settings', 'swap']);
    expect(actions(p, 'settings')[0]).not.toHaveProperty('fallback');
    // Without a live N, the dump's CREATE DATABASE and properties.
    expect(actions(p, 'create-temp')).toEqual([{ kind: 'create-empty', database: 'app__temp', like: { archive: dump.key } }]);
    expect(actions(p, 'settings')[1]).toEqual({ kind: 'apply-properties', database: 'app__temp', from: { archive: dump.key } });
    expect(actions(p, 'swap')).toEqual([{ kind: 'swap', renames: [['app__temp', 'app']], allowConnections: [], restoreComments: [['app', 'app__temp']] }]);
  });

  it('drops a stale N__temp first', () => {
    expect(actions(plan(['app', 'app__temp']), 'create-temp')[0]).toMatchObject({ kind: 'drop', database: 'app__temp' });
  });

  it('reversible: snapshots :post after the hooks and renames N to :pre, replacing older restore points', () => {
    const p = plan(['app', 'app__pre', 'app__post'], { reversible: true, preSwapHooks: ['echo'] });
    expect(p.reversible).toBe(true);
    expect(steps(p)).toEqual(['create-temp', 'restore', 'settings', 'pre-swap-hooks', 'snapshot-post', 'swap', 'cleanup']);
    expect(actions(p, 'snapshot-post')).toEqual([
      { kind: 'create-from-template', database: 'app__stage', template: 'app__temp' },
      { kind: 'apply-settings', database: 'app__stage', from: 'app__temp' }, // a template copy drops them
      { kind: 'apply-properties', database: 'app__stage', from: { database: 'app__temp' } },
    ]);
    // Nothing is dropped before the swap: a run killed there must leave the old :pre and :post as they were.
    expect(actions(p, 'swap')).toEqual([
      { kind: 'block', database: 'app' },
      { kind: 'block', database: 'app__pre' },
      { kind: 'block', database: 'app__post' },
      {
        kind: 'swap',
        // In this order, each rename frees the name the next one takes.
        renames: [['app__post', 'app__swap'], ['app__stage', 'app__post'], ['app__pre', 'app__stage'], ['app', 'app__pre'], ['app__temp', 'app']],
        allowConnections: ['app__pre'],
        restoreComments: [['app', 'app__temp']],
      },
    ]);
    expect(actions(p, 'cleanup')).toEqual([
      { kind: 'drop', database: 'app__swap', reason: 'the :post this restore replaced' },
      { kind: 'drop', database: 'app__stage', reason: 'the :pre this restore replaced' },
    ]);
    // The first reversible restore has no older restore points to move aside.
    const first = plan(['app'], { reversible: true });
    expect(actions(first, 'swap').at(-1)).toMatchObject({ renames: [['app__stage', 'app__post'], ['app', 'app__pre'], ['app__temp', 'app']] });
    expect(steps(first)).not.toContain('cleanup');
  });

  it('non-reversible dump restore drops older :pre/:post only after the swap', () => {
    const p = plan(['app', 'app__pre', 'app__post']);
    expect(actions(p, 'swap').filter((a) => a.kind === 'drop')).toEqual([]);
    expect(actions(p, 'cleanup').map((a) => (a as { database: string }).database)).toEqual(['app__swap', 'app__pre', 'app__post']);
  });

  it('local restores copy the source, ignore --reversible and leave :pre/:post alone', () => {
    const p = plan(['app', 'app__pre', 'app__post'], {
      source: { kind: 'local', key: ':post', database: 'app__post' },
      reversible: true,
    });
    expect(p.reversible).toBe(false);
    expect(steps(p)).toEqual(['create-temp', 'settings', 'swap', 'cleanup']);
    expect(actions(p, 'create-temp')).toEqual([{ kind: 'create-from-template', database: 'app__temp', template: 'app__post' }]);
    // The source's own settings, exactly: no fallback to N's, or :pre would not really go back.
    expect(actions(p, 'settings')).toEqual([
      { kind: 'apply-settings', database: 'app__temp', from: 'app__post' },
      // The source as it is: :pre is the old N, with its owner, privileges and comment.
      { kind: 'apply-properties', database: 'app__temp', from: { database: 'app__post' } },
      { kind: 'mark-restored', database: 'app__temp' },
    ]);
    expect(drops(p)).toEqual(['app__swap']);
  });

  it('resuming from N__temp neither recreates it nor reapplies settings', () => {
    const p = plan(['app', 'app__temp'], {
      source: { kind: 'local', key: ':app__temp', database: 'app__temp' },
      preSwapHooks: ['migrate'],
    });
    expect(steps(p)).toEqual(['pre-swap-hooks', 'swap', 'cleanup']);
    expect(drops(p)).toEqual(['app__swap']);
  });

  it('runs pre-swap hooks on N__temp and post-swap hooks on N', () => {
    const p = plan(['app'], { preSwapHooks: ['a'], postSwapHooks: ['b'] });
    expect(actions(p, 'pre-swap-hooks')).toEqual([{ kind: 'hooks', phase: 'pre-swap', database: 'app__temp', hooks: ['a'] }]);
    expect(steps(p).at(-1)).toBe('post-swap-hooks');
    expect(actions(p, 'post-swap-hooks')).toEqual([{ kind: 'hooks', phase: 'post-swap', database: 'app', hooks: ['b'] }]);
  });

  it('describes the plan as printable lines', () => {
    const lines = describePlan(plan(['app'], { reversible: true, preSwapHooks: ['npm run seed', function addFixtures() {}] }));
    expect(lines[0]).toBe(`restore dump ${dump.key} into app (reversible)`);
    expect(lines).toContain('create-temp: create database app__temp with the encoding, collation and tablespace of app');
    expect(lines).toContain('pre-swap-hooks: run pre-swap hooks on app__temp: npm run seed, [function addFixtures]');
    expect(lines).toContain('swap: in one transaction: rename app__stage to app__post, rename app to app__pre, rename app__temp to app');
  });

  it('refuses a target whose working names would exceed 63 bytes', () => {
    expect(() => plan([], { target: 'x'.repeat(58) })).toThrow(/63 bytes/);
  });
});

describe('selectRestoreHooks', () => {
  const configured = { preSwapHooks: ['migrate'], preSwapHooksGiven: false, postSwapHooks: ['echo done'] };

  it('runs configured and default pre-swap hooks for dumps', () => {
    expect(selectRestoreHooks(configured, { kind: 'dump' }, 'app')).toEqual({
      preSwapHooks: ['migrate'],
      postSwapHooks: ['echo done'],
      skipped: [],
    });
  });

  it('skips them for local restores, so :pre comes back exactly; post-swap hooks still run', () => {
    expect(selectRestoreHooks(configured, { kind: 'local', database: 'app__pre' }, 'app')).toEqual({
      preSwapHooks: [],
      postSwapHooks: ['echo done'],
      skipped: ['migrate'],
    });
  });

  it('runs them when given explicitly for the call, and when resuming N__temp', () => {
    expect(selectRestoreHooks({ ...configured, preSwapHooksGiven: true }, { kind: 'local', database: 'copy' }, 'app').preSwapHooks).toEqual(['migrate']);
    expect(selectRestoreHooks(configured, { kind: 'local', database: 'app__temp' }, 'app').preSwapHooks).toEqual(['migrate']);
  });
});

describe('the mark of a restored N__temp', () => {
  it("keeps the user's comment, to be given back as the database goes live", () => {
    expect(readMark(restoredMark(null))).toEqual({ marked: true, comment: null });
    expect(readMark(restoredMark("it's\nthe app"))).toEqual({ marked: true, comment: "it's\nthe app" });
    // The mark of earlier versions, and comments that are no mark.
    expect(readMark(RESTORED_COMMENT)).toEqual({ marked: true, comment: null });
    expect(readMark('the app')).toEqual({ marked: false, comment: 'the app' });
    expect(readMark(null)).toEqual({ marked: false, comment: null });
    expect(readMark(`${RESTORED_COMMENT} and more`).marked).toBe(false);
  });
});
