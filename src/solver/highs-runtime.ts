import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import highsModule from 'highs';
import type { Highs } from 'highs';
import { RondoError } from '../model/errors.js';

// The package's types describe a CommonJS default export; at run time Node loads its ESM build, whose default
// export is the loader itself. Accept both shapes.
type Loader = (typeof highsModule)['default'];
const loader: Loader = ((highsModule as unknown as { default?: Loader }).default ?? highsModule) as unknown as Loader;

// Compile the WASM once; every instance (active, standby, replacements) is instantiated from the compiled module.
// (The project's `lib` has no WebAssembly typings, hence the structural types.)
interface WasmInstance {
  readonly exports: Record<string, unknown>;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Memory: abstract new (...args: never[]) => { readonly buffer: ArrayBuffer };
  instantiate(module: object, imports: object): Promise<WasmInstance>;
}
type ImportFn = ((...args: never[]) => unknown) & { readonly name: string };

/**
 * HiGHS reads its clock thousands of times per solve (its timers guard time limits and profile phases), and the
 * Emscripten import behind it converts a BigInt argument and writes a BigInt result on every call: about a tenth of
 * the time of a small LP. This import writes the same nanosecond count without BigInts. (Reading the clock less
 * often is not safe while a time limit applies: HiGHS stamps a model's start time with a reading, and a stale one
 * ends solves at once at their time limit.)
 *
 * Inside `untimedRun` (an LP without a time limit) nothing HiGHS does depends on the time: its timers only feed logs
 * that are off. There the monotonic clock (the one HiGHS reads) advances by 1 ns per reading instead of asking the
 * OS, which saves a further 5-10% of a small interior-point solve (about 4,700 readings for a 40-row LP). A reading
 * costs more than 1 ns, so the ticking clock falls behind the real one and never runs ahead of it; readings are
 * non-decreasing across the switch.
 */
interface ClockState {
  untimed: boolean;
  lastMonotonicNs: number;
}

function fastClock(clock: ClockState, memoryOf: () => { readonly buffer: ArrayBuffer } | undefined): (clk: number, precision: bigint, ptime: number) => number {
  let view: Uint32Array | undefined;
  return (clk, _precision, ptime) => {
    if (clk < 0 || clk > 3) return 28; // EINVAL, as WASI
    let ns: number;
    if (clk === 0) {
      ns = Math.round(Date.now() * 1e6);
    } else {
      // Exact in a double for 104 days of process time (2^53 ns).
      ns = clock.untimed ? clock.lastMonotonicNs + 1 : Math.max(clock.lastMonotonicNs, Math.round(performance.now() * 1e6));
      clock.lastMonotonicNs = ns;
    }
    const memory = memoryOf();
    if (!memory) return 28;
    if (!view || view.buffer !== memory.buffer) view = new Uint32Array(memory.buffer);
    const hi = Math.floor(ns / 4294967296);
    view[ptime >>> 2] = ns - hi * 4294967296;
    view[(ptime >>> 2) + 1] = hi;
    return 0;
  };
}

function compileHighs(): object {
  const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
  const require = createRequire(import.meta.url);
  return new wasm.Module(readFileSync(require.resolve('highs/runtime')));
}

function loadHighs(module: object, clock: ClockState): Promise<Highs> {
  const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
  const instantiateWasm = (info: { a?: Record<string, ImportFn> }, receive: (instance: WasmInstance) => void): object => {
    let memory: { readonly buffer: ArrayBuffer } | undefined;
    const imports = info.a;
    if (imports) {
      // Found by name, not by the build's minified import key, so another build of the package keeps working.
      const key = Object.keys(imports).find((k) => imports[k]!.name === '_clock_time_get');
      if (key) imports[key] = fastClock(clock, () => memory) as unknown as ImportFn;
    }
    wasm.instantiate(module, info).then((instance) => {
      memory = Object.values(instance.exports).find((v): v is { readonly buffer: ArrayBuffer } => v instanceof wasm.Memory);
      receive(instance);
    }, fail);
    return {};
  };
  // Emscripten never settles its promise when instantiation fails, so that failure rejects through `fail`.
  let fail: (e: unknown) => void = () => {};
  const failed = new Promise<never>((_, reject) => {
    fail = reject;
  });
  return Promise.race([loader({ instantiateWasm } as unknown as Parameters<Loader>[0]), failed]);
}

/** Swap to a fresh instance once the heap has grown past this (it never shrinks). */
const RECYCLE_HEAP_BYTES = 1024 * 1024 * 1024;

/**
 * Owns the HiGHS WASM instances of one `Solver` (lp.ts). HiGHS' heap is capped at 2 GiB and never shrinks, and after
 * an `Aborted()` the instance is unusable; reloading is asynchronous while solving must stay synchronous. So we keep
 * a loaded standby instance: when the active one dies (or its heap has grown past a threshold) we swap to the
 * standby at once and load a new standby in the background.
 */
export class HighsInstances {
  /** The WASM compiled once; every instance (active, standby, replacements) is instantiated from it. */
  private compiled: object | undefined;
  private readonly clock: ClockState = { untimed: false, lastMonotonicNs: 0 };
  private active: Highs | undefined;
  private standby: Highs | undefined;
  private standbyLoading: Promise<void> | undefined;
  private initPromise: Promise<void> | undefined;

  /** Runs `solve` with the ticking clock (see `fastClock`). Only for solves whose answer cannot depend on time. */
  untimedRun<T>(solve: () => T): T {
    this.clock.untimed = true;
    try {
      return solve();
    } finally {
      this.clock.untimed = false;
    }
  }

  private load(): Promise<Highs> {
    this.compiled ??= compileHighs();
    return loadHighs(this.compiled, this.clock);
  }

  private loadStandby(): Promise<void> {
    if (this.standbyLoading) return this.standbyLoading;
    if (this.standby) return Promise.resolve();
    this.standbyLoading = this.load()
      .then((h) => {
        this.standby = h;
      })
      .catch(() => {
        // A failed background load only matters if the active instance dies; then `activeHighs` reports it.
      })
      .finally(() => {
        this.standbyLoading = undefined;
      });
    return this.standbyLoading;
  }

  /** Loads the solver (once). Every solve after this resolves is synchronous. */
  init(): Promise<void> {
    if (this.active) return this.loadStandby();
    // Cleared when settled, so that a later call reloads if the active instance has died in the meantime.
    this.initPromise ??= (async () => {
      try {
        this.active = this.standby ?? (await this.load());
        if (this.standby === this.active) this.standby = undefined;
      } catch (e) {
        throw new RondoError({ code: 'E_SOLVER', problem: `could not load the HiGHS solver: ${(e as Error).message}` });
      }
      await this.loadStandby();
    })().finally(() => {
      this.initPromise = undefined;
    });
    return this.initPromise;
  }

  get ready(): boolean {
    return this.active !== undefined;
  }

  /** The live instance; throws a RondoError when `init()` has not finished. */
  activeHighs(): Highs {
    if (!this.active) {
      throw new RondoError({
        code: 'E_SOLVER',
        problem: 'the LP solver is not loaded',
        hint: 'await initSolver() from src/solver before calling a policy',
      });
    }
    return this.active;
  }

  /** Replaces the active instance by the standby (after an abort, or when the heap has grown too large). */
  recycle(reason: 'aborted' | 'heap'): boolean {
    if (!this.standby) {
      if (reason === 'aborted') this.active = undefined;
      void this.loadStandby().then(() => {
        if (!this.active && this.standby) {
          this.active = this.standby;
          this.standby = undefined;
          void this.loadStandby();
        }
      });
      return false;
    }
    this.active = this.standby;
    this.standby = undefined;
    void this.loadStandby();
    return true;
  }

  /** Called after each solve: recycles a grown heap before it can hit the 2 GiB cap. */
  afterSolve(): void {
    if (this.active && this.active.memoryBytes > RECYCLE_HEAP_BYTES && this.standby) this.recycle('heap');
  }
}

export function isAbort(e: unknown): boolean {
  const msg = e instanceof Error ? e.message : String(e);
  return /abort/i.test(msg) || /RuntimeError/.test(String((e as Error)?.name ?? ''));
}
