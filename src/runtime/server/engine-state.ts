import type { EngineState, SavedJob } from '../../engine/index.js';
import type { Store } from './store/index.js';
import { loopSections } from './loop-sections.js';

/**
 * The engine's state (ledger, allocation, policy state, round) as stored in the server's meta table between rounds:
 * its encoding, and its writer (`SavedEngineState`), so a restarted server goes on where it stopped.
 */

/** JSON with Maps, for a policy's opaque state (some hold Maps). */
function mapsToJson(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (x instanceof Map ? { $map: [...(x as Map<unknown, unknown>)] } : x)) ?? 'null';
}
function mapsFromJson(s: string): unknown {
  return JSON.parse(s, (_k, x: unknown) =>
    x !== null && typeof x === 'object' && '$map' in x ? new Map((x as { $map: Array<[unknown, unknown]> }).$map) : x,
  ) as unknown;
}

/**
 * The engine's state as stored: Maps as entry lists, written without a replacer function (one per value would cost
 * more than the rest of a round with 10,000 jobs). Produced in pieces of at most `STATE_CHUNK` entries, each about a
 * millisecond with 10,000 jobs, so a server can write it between requests (`encodeStateSliced`); the pieces joined
 * are the JSON of one object.
 */
function* stateParts(policy: string, st: EngineState): Generator<string> {
  const { ledger, allocation } = st;
  const j = (v: unknown): string => JSON.stringify(v);
  yield `{"policy":${j(policy)},"round":${j(st.round)},"stale":${j(st.stale)},"jobs":`;
  // Each job as [id, stepsDone, totalSteps, roundsRun, preemptions, failures]: a third of the bytes of objects.
  yield* arrayParts(st.jobs.map((x) => [x.id, x.stepsDone, x.totalSteps, x.roundsRun, x.preemptions, x.failures]));
  yield `,"ledger":{"gpuTypes":${j(ledger.gpuTypes)},"jobTime":`;
  yield* arrayParts([...ledger.jobTime]);
  yield `,"workerTime":${j(ledger.workerTime)},"deficits":`;
  yield* arrayParts([...ledger.deficits]);
  yield `,"lastReset":${j(ledger.lastReset)}},"allocation":`;
  if (allocation) {
    yield `{"gpuTypes":${j(allocation.gpuTypes)},"shares":`;
    yield* arrayParts([...allocation.shares]);
    yield '}';
  } else yield 'null';
  yield `,"policyState":${j(mapsToJson(st.policyState))}}`;
}

const STATE_CHUNK = 1000;

/** The JSON of an array, `STATE_CHUNK` entries at a time. */
function* arrayParts(xs: readonly unknown[]): Generator<string> {
  if (xs.length === 0) yield '[]';
  for (let i = 0; i < xs.length; i += STATE_CHUNK) {
    const inner = JSON.stringify(xs.slice(i, i + STATE_CHUNK)).slice(1, -1);
    yield `${i === 0 ? '[' : ','}${inner}${i + STATE_CHUNK >= xs.length ? ']' : ''}`;
  }
}

export function encodeState(policy: string, st: EngineState): string {
  return [...stateParts(policy, st)].join('');
}

/** `encodeState` with a turn of the event loop between pieces. The state is immutable, so it may be read over time. */
export async function encodeStateSliced(policy: string, st: EngineState): Promise<string> {
  const out: string[] = [];
  let t = performance.now();
  for (const piece of stateParts(policy, st)) {
    loopSections.add('engine state: encode a piece', performance.now() - t);
    out.push(piece);
    await new Promise<void>((resolve) => setImmediate(resolve));
    t = performance.now();
  }
  return out.join('');
}

export function decodeState(raw: string): { policy: string; state: EngineState } {
  const o = JSON.parse(raw) as {
    policy: string;
    round: number;
    stale: boolean;
    /** Arrays (the compact encoding); a state saved by an older server holds objects (`SavedJob`). */
    jobs: Array<SavedJob | [string, number, number, number, number, number]>;
    ledger: { gpuTypes: string[]; jobTime: Array<[string, number[]]>; workerTime: number[]; deficits: Array<[string, number[]]>; lastReset: number };
    allocation: { gpuTypes: string[]; shares: Array<[string, number[]]> } | null;
    policyState: string;
  };
  return {
    policy: o.policy,
    state: {
      round: o.round,
      stale: o.stale,
      jobs: o.jobs.map((j) =>
        Array.isArray(j) ? { id: j[0], stepsDone: j[1], totalSteps: j[2], roundsRun: j[3], preemptions: j[4], failures: j[5] } : j,
      ),
      ledger: { ...o.ledger, jobTime: new Map(o.ledger.jobTime), deficits: new Map(o.ledger.deficits) },
      allocation: o.allocation ? { gpuTypes: o.allocation.gpuTypes, shares: new Map(o.allocation.shares) } : undefined,
      policyState: mapsFromJson(o.policyState),
    },
  };
}

const ENGINE_STATE_KEY = 'engine_state';

/** The engine's saved state in the store: loaded at (re)start, written at most once a heartbeat. */
export class SavedEngineState {
  /** The engine's latest state not yet written, and when it was last written (writes are at most one a heartbeat). */
  private unsaved: EngineState | undefined;
  private savedAt = 0;
  private saveTimer: NodeJS.Timeout | undefined;
  /** Counts writes of the state, so a sliced write that a later write overtook does not store an older state. */
  private saveGen = 0;

  constructor(
    private readonly store: Store,
    private readonly policy: { readonly name: string },
    private readonly heartbeatMs: number,
    private readonly log: (msg: string) => void,
  ) {}

  /** The saved state; another policy's keeps only the ledger and the round. Undefined when none or unreadable. */
  load(): EngineState | undefined {
    const raw = this.store.getMeta(ENGINE_STATE_KEY);
    if (raw === undefined) return undefined;
    try {
      const saved = decodeState(raw);
      // Another policy's state and allocation mean nothing to this one: keep only the ledger and the round.
      return saved.policy === this.policy.name ? saved.state : { ...saved.state, allocation: undefined, policyState: undefined, stale: true };
    } catch (e) {
      this.log(`ignoring the saved scheduler state: ${(e as Error).message}`);
      return undefined;
    }
  }

  save(state: EngineState): void {
    this.unsaved = state;
    if (this.saveTimer) return;
    this.saveTimer = setTimeout(() => void this.writeSliced(), Math.max(0, this.savedAt + this.heartbeatMs - Date.now()));
  }

  /**
   * `flush` for the save timer: the state (tens of milliseconds of JSON with 10,000 jobs) is encoded a field at
   * a time between requests. A write that starts meanwhile (stop, a restart of the engine) supersedes this one.
   */
  private async writeSliced(): Promise<void> {
    this.saveTimer = undefined;
    const st = this.unsaved;
    if (!st) return;
    const gen = ++this.saveGen;
    try {
      const json = await encodeStateSliced(this.policy.name, st);
      if (gen !== this.saveGen) return;
      loopSections.time('engine state: write', () => this.store.setMeta(ENGINE_STATE_KEY, json));
      if (this.unsaved === st) this.unsaved = undefined;
      this.savedAt = Date.now();
    } catch (e) {
      this.log(`scheduler error: ${(e as Error).stack ?? String(e)}`);
    }
  }

  /** Writes the engine's latest state now (a crash loses at most the last heartbeat's bookkeeping, never a job). */
  flush(): void {
    clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    this.saveGen++;
    if (!this.unsaved) return;
    this.store.setMeta(ENGINE_STATE_KEY, encodeState(this.policy.name, this.unsaved));
    this.unsaved = undefined;
    this.savedAt = Date.now();
  }
}
