import type { TestProject } from 'vitest/node';
import { startCluster, type ClusterInfo } from './cluster.js';

declare module 'vitest' {
  export interface ProvidedContext {
    pg: ClusterInfo;
  }
}

/** One PostgreSQL cluster per test run; every test file makes its own databases in it. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const cluster = await startCluster();
  project.provide('pg', cluster.info);
  return cluster.stop;
}
