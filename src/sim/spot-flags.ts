/** `rondo simulate --capacity FILE --prices FILE ...`: the spot flags, turned into a `SpotInput`. */
import { RondoError } from '../model/index.js';
import { readCapacityFile, readPricesFile, type CapacityTrace } from '../io/index.js';
import { TIER_STRATEGIES, type SpotInput, type TierStrategy } from './spot.js';
import { DEFAULT_GPU_MAP, parseGpuMap } from './spot-table.js';

export interface SpotFlags {
  capacity?: string;
  prices?: string;
  checkpointInterval?: string;
  checkpointCost?: string;
  capacityLoop?: string;
  gpuMap?: string;
  sloFactors?: string;
  spotStrategy?: string;
  repriceThreshold?: string;
}

function num(name: string, v: string, min: number): number {
  const x = Number(v);
  if (v.trim() === '' || !Number.isFinite(x) || x < min) throw new RondoError({ code: 'E_USAGE', problem: `bad ${name}`, expected: `a number >= ${min}`, found: JSON.stringify(v) });
  return x;
}

/** Several capacity files merge into one trace (e.g. an on-demand pool and a spot trace). */
export function mergeCapacity(traces: readonly CapacityTrace[]): CapacityTrace {
  const keys = traces.flatMap((t) => t.keys).filter((k, i, all) => all.findIndex((x) => x.type === k.type) === i);
  const events = traces.flatMap((t) => t.events).map((e, i) => ({ e, i })).sort((a, b) => a.e.time - b.e.time || a.i - b.i).map((x) => x.e);
  return { keys, events };
}

/** The spot input of a run, or undefined without `--capacity`. With `--capacity`, `--prices` names a price file. */
export function spotFromFlags(flags: SpotFlags): SpotInput | undefined {
  const spotOnly = [flags.checkpointInterval, flags.checkpointCost, flags.capacityLoop, flags.gpuMap, flags.sloFactors, flags.spotStrategy, flags.repriceThreshold].some((v) => v !== undefined);
  if (!flags.capacity) {
    if (spotOnly) throw new RondoError({ code: 'E_USAGE', problem: '--checkpoint-*, --capacity-loop, --gpu-map, --slo-factors, --spot-strategy and --reprice-threshold need --capacity' });
    return undefined;
  }
  if (!flags.prices) throw new RondoError({ code: 'E_USAGE', problem: '--capacity needs --prices FILE (a price trace, docs/formats.md)', hint: 'e.g. --prices data/spot/gcp-prices.csv' });
  const capacity = mergeCapacity(flags.capacity.split(',').map((f) => readCapacityFile(f.trim())));
  const interval = flags.checkpointInterval === undefined ? Infinity : num('--checkpoint-interval', flags.checkpointInterval, 1e-3);
  const cost = flags.checkpointCost === undefined ? 0 : num('--checkpoint-cost', flags.checkpointCost, 0);
  if (flags.checkpointCost !== undefined && flags.checkpointInterval === undefined) {
    throw new RondoError({ code: 'E_USAGE', problem: '--checkpoint-cost needs --checkpoint-interval' });
  }
  const strategy = flags.spotStrategy ?? 'any';
  if (!TIER_STRATEGIES.includes(strategy as TierStrategy)) {
    throw new RondoError({ code: 'E_USAGE', problem: 'bad --spot-strategy', expected: TIER_STRATEGIES.join(', '), found: JSON.stringify(strategy) });
  }
  const sloFactors = flags.sloFactors?.split(',').map((s) => num('--slo-factors', s, 1));
  return {
    capacity,
    prices: readPricesFile(flags.prices),
    pricesFile: flags.prices,
    checkpoint: { intervalS: interval, costS: cost },
    ...(flags.capacityLoop !== undefined ? { loopS: num('--capacity-loop', flags.capacityLoop, 1) } : {}),
    ...(flags.gpuMap !== undefined ? { gpuMap: { ...DEFAULT_GPU_MAP, ...parseGpuMap(flags.gpuMap) } } : {}),
    ...(sloFactors ? { sloFactors } : {}),
    strategy: strategy as TierStrategy,
    ...(flags.repriceThreshold !== undefined ? { repriceThreshold: num('--reprice-threshold', flags.repriceThreshold, 0) } : {}),
  };
}
