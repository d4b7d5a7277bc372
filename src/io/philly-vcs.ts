import { readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { RondoError } from '../model/errors.js';
import type { Job } from '../model/job.js';
import { readJobs } from './jobs.js';

/**
 * Philly's virtual clusters as tenants: a folder of Gavel's per-VC msr traces (`traces/msr/seed=<n>/<vc>.trace`,
 * Philly data CC-BY-4.0, Jeon et al., ATC'19; Gavel MIT) read as one trace whose jobs carry `tenant = <vc>`.
 *
 * What it assumes (docs/tenants.md, "Tenants in traces"): each file's arrivals count from that VC's own first job
 * (the absolute offsets between VCs are not in Gavel's files), so the VCs start together at time 0; job types and
 * steps are Gavel's own assignment for that seed (a random model from its job table, steps for the recorded duration on
 * a v100); ids become `<vc>:<line index>`; jobs are merged by arrival, ties in VC name order.
 */
export function readPhillyVcs(dir: string): { jobs: Job[]; vcs: string[] } {
  let names: string[];
  try {
    names = readdirSync(dir).filter((f) => f.endsWith('.trace') && statSync(join(dir, f)).isFile()).sort();
  } catch (e) {
    throw new RondoError({ code: 'E_IO', file: dir, problem: `cannot list the folder: ${(e as Error).message}` });
  }
  if (names.length === 0) throw new RondoError({ code: 'E_EMPTY', file: dir, problem: 'no <vc>.trace files', hint: "give a folder of Gavel's msr traces, e.g. traces/msr/seed=0" });
  const jobs: Array<Job & { vcRank: number }> = [];
  names.forEach((f, rank) => {
    const vc = basename(f, '.trace');
    for (const j of readJobs(join(dir, f), { format: 'gavel-msr' }).jobs) jobs.push({ ...j, id: `${vc}:${j.id}`, tenant: vc, vcRank: rank });
  });
  jobs.sort((a, b) => a.arrivalTime - b.arrivalTime || a.vcRank - b.vcRank);
  return { jobs: jobs.map(({ vcRank: _r, ...j }) => j), vcs: names.map((f) => basename(f, '.trace')) };
}
