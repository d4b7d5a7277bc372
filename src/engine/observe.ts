/**
 * Phase: observe. An executor whose machines come and go (a live server) reports the cluster the next round may
 * use and what runs where on it; a simulator has no `observe` and keeps `EngineConfig.cluster` for good.
 */
import type { ClusterSpec } from '../model/index.js';
import { retypeLedger } from '../mechanism/index.js';
import { pairRowsOf } from './pairs.js';
import { pause, type RunState } from './state.js';

export async function observe(s: RunState): Promise<void> {
  const { executor } = s.cfg;
  if (!executor.observe) return;
  const view = await executor.observe(s.now);
  adopt(s, view.cluster);
  s.previous = view.running.filter((a) => a.jobIds.every((j) => s.active.has(j)));
  await pause(s, 'observe');
}

/** Takes the cluster the executor has now; a different one makes the allocation stale (Gavel: a worker joined). */
function adopt(s: RunState, next: ClusterSpec): void {
  if (sameCluster(s.cluster, next)) return;
  const before = s.types;
  s.cluster = next;
  s.types = next.gpuTypes;
  if (before.join('\n') !== s.types.join('\n')) {
    s.ledger = retypeLedger(s.ledger, s.types, s.roundDuration);
    for (const a of s.active.values()) a.rec.runSeconds = s.types.map((t) => a.rec.runSeconds[before.indexOf(t)] ?? 0);
  }
  for (const [id, a] of s.active) {
    const throughput = s.cfg.throughputOf(a.job, s.cluster);
    s.active.set(id, { ...a, throughput, row: { ...a.row, throughput } });
  }
  s.colocatedCache.clear();
  s.pairRowCache.clear();
  if (s.allocation) s.pairRows = pairRowsOf(s, s.allocation);
  s.rowsVersion++;
  s.stale = true;
}

/** Same GPU types, counts and servers: the engine keeps its cached rows. */
function sameCluster(a: ClusterSpec, b: ClusterSpec): boolean {
  if (a === b) return true;
  if (a.totalGpus !== b.totalGpus || a.gpuTypes.join('\n') !== b.gpuTypes.join('\n') || a.servers.length !== b.servers.length) return false;
  return a.servers.every((s, i) => {
    const t = b.servers[i]!;
    return s.gpuType === t.gpuType && s.gpus === t.gpus && s.firstGpu === t.firstGpu;
  });
}
