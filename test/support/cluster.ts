// The cluster helper lives in scripts/cluster.mjs so that the demo and the benchmarks share it with the tests.
export { findPgBin, freePort, startCluster, type ClusterInfo } from '../../scripts/cluster.mjs';
