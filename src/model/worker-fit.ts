/**
 * Whether a job's gang fits some worker: the runtime launches all of a job's GPUs on one machine, of one allowed
 * type. Pure (no imports): the server (src/runtime/why.ts) and the dashboard's submit form share it.
 */
export interface Shape {
  readonly scaleFactor: number;
  readonly gpuTypes: readonly string[] | null;
}

export interface WorkerGpus {
  readonly gpus: ReadonlyArray<{ readonly type: string; readonly count: number }>;
}

/**
 * Null when some live worker can hold the job's gang (all its GPUs of one allowed type on one machine, as the runtime
 * launches them); otherwise what is missing, e.g. "needs 4×v100 on one worker; the largest has 2".
 */
export function shapeProblem(job: Shape, workers: readonly WorkerGpus[]): string | null {
  const most = new Map<string, number>();
  for (const w of workers) for (const g of w.gpus) most.set(g.type, Math.max(most.get(g.type) ?? 0, g.count));
  if (most.size === 0) return 'no worker is registered yet';
  const allowed = job.gpuTypes ?? [...most.keys()].sort();
  if (allowed.some((t) => (most.get(t) ?? 0) >= job.scaleFactor)) return null;
  const present = allowed.filter((t) => most.has(t));
  const missing = allowed.filter((t) => !most.has(t));
  const parts: string[] = [];
  if (present.length > 0) {
    parts.push(`needs ${job.scaleFactor}×${present.join(' or ')} on one worker; the largest has ${present.map((t) => `${most.get(t)} ${t}`).join(', ')}`);
  }
  if (missing.length > 0) parts.push(`no live worker has ${missing.join(' or ')} GPUs (there are ${[...most.keys()].sort().join(', ')})`);
  return parts.join('; ');
}

