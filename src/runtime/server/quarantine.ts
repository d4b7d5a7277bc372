import type { PolicyJob, PolicyResult, PolicySnapshot } from '../../policies/types.js';

/**
 * One bad job must not stop a cluster. Values are bounded at the API, but a job may still make the policy fail on
 * the live set (a combination nobody foresaw, a store edited by hand, a policy's own bug). Then the policy is run on
 * halves of the job set to find a job it fails with alone; that job is handed to `quarantine` (the scheduler marks it
 * failed with the reason) and the allocation of the others is returned. A failure no single job explains (every
 * probe fails: the solver itself is broken; or only a combination fails) is rethrown: nobody is blamed blindly.
 *
 * The search is a generator of probe snapshots so the same steps drive the synchronous policy (tests, TypeScript
 * sources) and the policy thread (async).
 */

export type Probe = { readonly ok: true; readonly result: PolicyResult } | { readonly ok: false; readonly error: unknown };

/** At most this many jobs are quarantined in one round; past that the failure is the policy's, not a job's. */
export const MAX_QUARANTINED_PER_ROUND = 4;

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export function* guardedAllocation(
  s: PolicySnapshot,
  quarantine: (job: PolicyJob, error: string) => void,
): Generator<PolicySnapshot, PolicyResult, Probe> {
  let jobs = s.jobs;
  for (let found = 0; ; found++) {
    const whole = yield { ...s, jobs };
    if (whole.ok) return whole.result;
    if (found === MAX_QUARANTINED_PER_ROUND || jobs.length === 0) throw whole.error;
    let anyOk = false;
    let suspects = jobs;
    while (suspects.length > 1) {
      const half = suspects.slice(0, Math.ceil(suspects.length / 2));
      const rest = suspects.slice(half.length);
      const a = yield { ...s, jobs: half };
      if (!a.ok) {
        suspects = half;
        continue;
      }
      anyOk = true;
      const b = yield { ...s, jobs: rest };
      if (!b.ok) {
        suspects = rest;
        continue;
      }
      throw whole.error; // each half is fine alone: only the combination fails
    }
    const bad = suspects[0]!;
    const others = jobs.filter((j) => j !== bad);
    if (!anyOk) {
      // Every probe failed: is it this job, or the policy whatever it is given?
      const without = yield { ...s, jobs: others };
      if (!without.ok) throw whole.error;
    }
    quarantine(bad, errorText(whole.error));
    jobs = others;
  }
}

/** Runs `guardedAllocation` with a synchronous policy. */
export function allocateGuardedSync(s: PolicySnapshot, allocate: (s: PolicySnapshot) => PolicyResult, quarantine: (job: PolicyJob, error: string) => void): PolicyResult {
  const it = guardedAllocation(s, quarantine);
  let step = it.next();
  while (!step.done) {
    let probe: Probe;
    try {
      probe = { ok: true, result: allocate(step.value) };
    } catch (error) {
      probe = { ok: false, error };
    }
    step = it.next(probe);
  }
  return step.value;
}

/** Runs `guardedAllocation` with an asynchronous policy (the policy thread). */
export async function allocateGuarded(
  s: PolicySnapshot,
  allocate: (s: PolicySnapshot) => Promise<PolicyResult>,
  quarantine: (job: PolicyJob, error: string) => void,
): Promise<PolicyResult> {
  const it = guardedAllocation(s, quarantine);
  let step = it.next();
  while (!step.done) {
    let probe: Probe;
    try {
      probe = { ok: true, result: await allocate(step.value) };
    } catch (error) {
      probe = { ok: false, error };
    }
    step = it.next(probe);
  }
  return step.value;
}
