import { describe, expect, it } from 'vitest';
import { restoreDefaults, serverOnThisMachine } from '../src/pg/restore-defaults.js';

describe('restoreDefaults', () => {
  it('always turns the commit wait off, and parallel index builds only where the jobs already cover the server cores', () => {
    expect(restoreDefaults(2, 2)).toEqual({ synchronous_commit: 'off', max_parallel_maintenance_workers: '0' });
    expect(restoreDefaults(8, 4)).toEqual({ synchronous_commit: 'off', max_parallel_maintenance_workers: '0' });
    expect(restoreDefaults(1, 2)).toEqual({ synchronous_commit: 'off' });
    expect(restoreDefaults(2, 16)).toEqual({ synchronous_commit: 'off' });
    // A server elsewhere: its cores are unknown.
    expect(restoreDefaults(64, undefined)).toEqual({ synchronous_commit: 'off' });
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
