import type { Allocation } from '../../model/index.js';
import type { Policy, PolicyResult, PolicySnapshot } from '../../policies/types.js';
import type { LoadedPolicy } from './policy-source.js';
import { allocationJson, PolicyThread } from './policy-worker.js';
import { allocateGuarded, allocateGuardedSync } from './quarantine.js';
import { turn } from './timing.js';

/** The allocation when there is no GPU or no job: nothing to divide, no solver call. */
function nothingToDivide(s: PolicySnapshot): PolicyResult | undefined {
  if (s.cluster.totalGpus !== 0 && s.jobs.length !== 0) return undefined;
  return { allocation: { gpuTypes: s.cluster.gpuTypes, shares: new Map<string, readonly number[]>() }, state: s.state };
}

/**
 * How the live scheduler (scheduler.ts) calls its policy: on the policy's thread while the loop runs (so a large LP
 * does not hold the event loop), inline otherwise; a job the policy fails with is handed to `quarantine` and the round
 * goes on without it (quarantine.ts). Keeps the latest allocation and its JSON for the rounds table.
 */
export class PolicyRunner {
  private last: Allocation | undefined;
  /** Allocations as the rounds table records them, encoded once per allocation (most rounds keep the last one). */
  private readonly json = new WeakMap<Allocation, string>();
  /** The policy's thread while the loop runs; undefined when running from TypeScript sources (tests). */
  private thread: PolicyThread | undefined;

  constructor(
    private readonly policy: LoadedPolicy,
    private readonly quarantine: (jobId: string, error: string) => void,
  ) {}

  startThread(): void {
    this.thread = PolicyThread.start(this.policy.name, this.policy.tenants);
  }

  async closeThread(): Promise<void> {
    await this.thread?.close();
  }

  /** Whether `onThread` can be used (else the engine calls `inline()`'s policy). */
  get hasThread(): boolean {
    return this.thread !== undefined;
  }

  /** The server's policy for the engine, called on the engine's own thread. */
  inline(): Policy {
    const loaded = this.policy;
    return {
      meta: loaded.meta,
      allocate: (s) => {
        const r = allocateGuardedSync(s, (p) => nothingToDivide(p) ?? (loaded.allocateLive ?? loaded.allocate)(p), (job, error) => this.quarantine(job.id, error));
        this.last = r.allocation;
        return r;
      },
    };
  }

  /** The same as `inline().allocate`, computed on the policy's thread. */
  async onThread(s: PolicySnapshot): Promise<PolicyResult> {
    const empty = nothingToDivide(s);
    if (empty) {
      this.last = empty.allocation;
      return empty;
    }
    // The engine built the snapshot (10,000 jobs) in this turn; sending it (a structured clone) gets a turn of its own.
    await turn();
    const r = await allocateGuarded(
      s,
      async (p) => {
        const none = nothingToDivide(p);
        if (none) return none;
        const t = await this.thread!.allocate(p);
        this.json.set(t.allocation, t.allocationJson);
        return t.state === undefined ? { allocation: t.allocation } : { allocation: t.allocation, state: t.state };
      },
      (job, error) => this.quarantine(job.id, error),
    );
    this.last = r.allocation;
    return r;
  }

  /** The allocation of the engine state a restarted server loaded. */
  restore(allocation: Allocation | undefined): void {
    this.last = allocation;
  }

  /** The latest allocation as the rounds table records it. */
  lastJson(): string {
    const alloc = this.last;
    let json = alloc && this.json.get(alloc);
    if (json === undefined) {
      json = allocationJson(alloc);
      if (alloc) this.json.set(alloc, json);
    }
    return json;
  }
}
