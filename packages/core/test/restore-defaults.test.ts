import { describe, expect, it } from 'vitest';
import { serverOnThisMachine } from '../src/connection.js';
import { restoreDefaults } from '../src/pg/restore-defaults.js';

describe('restoreDefaults', () => {
  it('always turns the commit wait off, and parallel index builds only where the jobs already cover the server cores', () => {
    const noWorkers = { synchronous_commit: 'off', max_parallel_maintenance_workers: '0' };
    expect(restoreDefaults({ jobs: 2, serverCores: 2, serverMajor: 15 })).toEqual(noWorkers);
    expect(restoreDefaults({ jobs: 8, serverCores: 4, serverMajor: 11 })).toEqual(noWorkers);
    expect(restoreDefaults({ jobs: 1, serverCores: 2, serverMajor: 15 })).toEqual({ synchronous_commit: 'off' });
    expect(restoreDefaults({ jobs: 2, serverCores: 16, serverMajor: 15 })).toEqual({ synchronous_commit: 'off' });
    // A server elsewhere: its cores are unknown.
    expect(restoreDefaults({ jobs: 64, serverCores: undefined, serverMajor: 15 })).toEqual({ synchronous_commit: 'off' });
    // PostgreSQL 10 has no such setting (nor parallel index builds).
    expect(restoreDefaults({ jobs: 2, serverCores: 2, serverMajor: 10 })).toEqual({ synchronous_commit: 'off' });
  });
});

describe('serverOnThisMachine', () => {
  it('counts sockets, localhost and loopback addresses as this machine, and nothing else', () => {
    for (const host of ['/var/run/postgresql', 'localhost', 'LOCALHOST', '127.0.0.1', '127.1.2.3', '::1', 'localhost,127.0.0.1']) {
      expect(serverOnThisMachine({ host }, {}), host).toBe(true);
    }
    for (const host of ['db.example.com', '10.0.0.5', '127.0.0.1.example.com', 'localhost.example.com', 'localhost,db.example.com', '::2']) {
      expect(serverOnThisMachine({ host }, {}), host).toBe(false);
    }
    // No host: PGHOST, else libpq's default (a local socket).
    expect(serverOnThisMachine({}, {})).toBe(true);
    expect(serverOnThisMachine({}, { PGHOST: 'db.example.com' })).toBe(false);
    expect(serverOnThisMachine({}, { PGHOST: '/tmp' })).toBe(true);
  });
});
