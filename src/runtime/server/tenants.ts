import { RondoError } from '../../model/errors.js';
import type { TenantTree } from '../../model/tenants.js';
import { flattenTenants } from '../../model/tenants.js';
import { readTenants } from '../../io/tenants.js';
import { getPolicy } from '../../policies/index.js';
import type { Policy, PolicyResult, PolicySnapshot } from '../../policies/types.js';
import type { Store, TenantRoundRow } from './store/index.js';
import { tenantFigures, type TenantFigures } from './tenant-figures.js';

/**
 * `rondo serve --tenants FILE` (docs/tenants.md, "rondo serve"): the tenant tree a live server's tenant policy
 * divides the cluster by, reloadable without a restart (SIGHUP, or POST /api/v1/admin/tenants/reload). A file that
 * does not parse on reload leaves the tree in force as it was. The leaves are the tenants tokens and jobs may name.
 * Each allocation's per-tenant figures (tenant-figures.ts) come back here; each round they become /metrics
 * counters and a row per tenant of the store's bounded history.
 */

/** Policies that divide by the tree; any other policy with --tenants is refused (it would ignore the file). */
export const TREE_POLICIES: ReadonlySet<string> = new Set(['tenant_quota', 'kueue_quota']);

/** Running totals per tenant since this server process started (/metrics counters). */
export interface TenantCounters {
  rounds: number;
  roundsWithDemand: number;
  roundsBelowGuarantee: number;
  receivedSeconds: number;
  borrowedGpuSeconds: number;
  lentGpuSeconds: number;
}

/** Fraction of the entitlement below which a round counts as below guarantee (as the simulator's accounting). */
export const BELOW_GUARANTEE = 0.95;

export class LiveTenants {
  private current: TenantTree;
  private leaves: ReadonlySet<string>;
  private readonly listeners: Array<(tree: TenantTree) => void> = [];
  private latest: TenantFigures | undefined;
  private lastRound = -1;
  private check: (tree: TenantTree) => void = () => {};
  readonly counters = new Map<string, TenantCounters>();
  /** When the tree in force was read (ms since the epoch), and how many reloads succeeded / failed. */
  loadedAt = Date.now();
  reloads = 0;
  failedReloads = 0;
  lastError: string | undefined;

  private constructor(
    readonly file: string,
    tree: TenantTree,
    private readonly log: (m: string) => void,
  ) {
    this.current = tree;
    this.leaves = leafNames(tree);
  }

  /** Reads the file; a bad file at start is a RondoError (the server does not start). */
  static load(file: string, log: (m: string) => void = () => {}): LiveTenants {
    return new LiveTenants(file, readTenants(file), log);
  }

  get tree(): TenantTree {
    return this.current;
  }

  tenants(): string[] {
    return [...this.leaves].sort();
  }

  has(tenant: string): boolean {
    return this.leaves.has(tenant);
  }

  /** The clear refusal for a tenant the tree lacks (a token, a job, a Kubernetes queue label). */
  unknown(tenant: string): RondoError {
    const known = this.tenants();
    return new RondoError({
      code: 'E_INVALID',
      file: this.file,
      problem: `tenant ${tenant} is not a tenant (leaf) of the tenant tree`,
      expected: `one of ${known.slice(0, 20).join(', ')}${known.length > 20 ? `, ... (${known.length})` : ''}`,
      hint: `add it to ${this.file} and reload (kill -HUP the server, or POST /api/v1/admin/tenants/reload)`,
    });
  }

  /** What the policy needs of a tree beyond the file's own checks; run now (throws) and on every reload. */
  useCheck(fn: (tree: TenantTree) => void): void {
    fn(this.current);
    this.check = fn;
  }

  onChange(fn: (tree: TenantTree) => void): void {
    this.listeners.push(fn);
  }

  /**
   * Reads the file again. A file that does not parse or check throws its RondoError (file, line, column, fix) and
   * the tree in force stays; a good one replaces it for the next allocation.
   */
  reload(): TenantTree {
    let tree: TenantTree;
    try {
      tree = readTenants(this.file);
      this.check(tree);
    } catch (e) {
      this.failedReloads++;
      this.lastError = (e as Error).message;
      this.log(`tenants: reload of ${this.file} failed, the tree in force stays: ${this.lastError}`);
      throw e;
    }
    this.current = tree;
    this.leaves = leafNames(tree);
    this.loadedAt = Date.now();
    this.reloads++;
    this.lastError = undefined;
    for (const fn of this.listeners) fn(tree);
    this.log(`tenants: reloaded ${this.file} (${this.leaves.size} tenants)`);
    return tree;
  }

  /** The latest allocation's figures (undefined before the first). */
  get figures(): TenantFigures | undefined {
    return this.latest;
  }

  /**
   * The figures in force: the latest allocation's while jobs wait or run on live GPUs. The scheduler asks the policy
   * nothing once the last job has left or the last worker is gone, so then every tenant is idle whatever the last
   * allocation gave.
   */
  figuresNow(divisible: boolean): TenantFigures | undefined {
    if (!divisible && this.latest && this.latest.tenants.some((t) => t.activeJobs > 0 || t.received > 0)) this.idle();
    return this.latest;
  }

  record(f: TenantFigures): void {
    this.latest = f;
  }

  /** Nothing to divide (no job or no GPU): every tenant receives nothing and is entitled to nothing. */
  idle(): void {
    const types = this.latest?.gpuTypes ?? [];
    this.latest = {
      gpuTypes: types,
      tenants: this.tenants().map((tenant) => ({ tenant, entitlement: 0, received: 0, gpus: types.map(() => 0), borrowedGpus: null, lentGpus: null, activeJobs: 0, queuedJobs: 0, queuedGpus: 0 })),
    };
  }

  /**
   * A round (or a stretch of one, with backfill) was run: each tenant's figures of the allocation in force become
   * its history row and count toward its counters. A later stretch of the same round replaces the row.
   */
  onRound(store: Store, round: number, atMs: number, seconds: number): void {
    const f = this.latest;
    if (!f || round <= 0) return;
    const rows: TenantRoundRow[] = f.tenants.map((t) => ({
      round,
      at: atMs,
      tenant: t.tenant,
      entitlement: t.entitlement,
      received: t.received,
      gpus: t.gpus.reduce((a, b) => a + b, 0),
      borrowed: t.borrowedGpus,
      lent: t.lentGpus,
      activeJobs: t.activeJobs,
      queuedJobs: t.queuedJobs,
      queuedGpus: t.queuedGpus,
    }));
    store.saveTenantRound(rows);
    // Seconds count for every credited stretch (a backfill splits a round); the round itself counts once.
    const fresh = round !== this.lastRound;
    this.lastRound = round;
    for (const t of f.tenants) {
      let c = this.counters.get(t.tenant);
      if (!c) this.counters.set(t.tenant, (c = { rounds: 0, roundsWithDemand: 0, roundsBelowGuarantee: 0, receivedSeconds: 0, borrowedGpuSeconds: 0, lentGpuSeconds: 0 }));
      c.receivedSeconds += t.received * seconds;
      c.borrowedGpuSeconds += (t.borrowedGpus ?? 0) * seconds;
      c.lentGpuSeconds += (t.lentGpus ?? 0) * seconds;
      if (!fresh) continue;
      c.rounds++;
      if (t.activeJobs > 0) {
        c.roundsWithDemand++;
        if (t.entitlement > 1e-9 && t.received < BELOW_GUARANTEE * t.entitlement) c.roundsBelowGuarantee++;
      }
    }
  }
}

/** The count-based baseline counts GPUs: a normalised guarantee would fail its every allocation. */
export function checkTreeForPolicy(policy: string, tree: TenantTree): void {
  if (policy !== 'kueue_quota') return;
  const bad = flattenTenants(tree).nodes.find((n) => n.guarantee?.kind === 'normalized');
  if (bad) {
    throw new RondoError({
      code: 'E_USAGE',
      ...(tree.source ? { file: tree.source } : {}),
      problem: `${bad.path} (${bad.name}) has a normalised guarantee; ${policy} counts GPUs`,
      hint: 'give guarantees in GPUs per type, or serve with --policy tenant_quota',
    });
  }
}

function leafNames(tree: TenantTree): ReadonlySet<string> {
  return new Set(flattenTenants(tree).leafIndex.keys());
}

/**
 * A registry policy over a tree that can change: the policy is rebuilt for each new tree, and each allocation
 * comes with its per-tenant figures. Used on the policy thread and, from TypeScript sources, in-process.
 */
export class TreePolicy {
  private policy: Policy;

  constructor(
    private readonly name: string,
    private tree: TenantTree,
  ) {
    this.policy = getPolicy(name, { tenants: tree });
  }

  get meta(): Policy['meta'] {
    return this.policy.meta;
  }

  setTree(tree: TenantTree): void {
    this.tree = tree;
    this.policy = getPolicy(this.name, { tenants: tree });
  }

  allocate(s: PolicySnapshot): PolicyResult & { figures: TenantFigures } {
    // Live workers come and go: a reference type the cluster lacks for now falls back to the default rule rather
    // than failing every job of the round.
    const { referenceGpuType: ref, ...rest } = this.tree;
    const tree = ref !== undefined && !s.cluster.gpuTypes.includes(ref) ? rest : this.tree;
    const policy = tree === this.tree ? this.policy : getPolicy(this.name, { tenants: tree });
    const r = policy.allocate(s);
    return { ...r, figures: tenantFigures(s, r.allocation, tree) };
  }
}
