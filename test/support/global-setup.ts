import type { TestProject } from 'vitest/node';
import { startCluster, type ClusterInfo } from './cluster.js';

declare module 'vitest' {
  export interface ProvidedContext {
    pg: ClusterInfo;
  }
}

/** One PostgreSQL cluster per test run; every test file makes its own databases in it. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // Prepared transactions on, so that tests can leave one on a database (it blocks RENAME and DROP DATABASE).
  const cluster = await startCluster({ settings: { max_prepared_transactions: '4' } });
  project.provide('pg', cluster.info);
  return cluster.stop;
}
