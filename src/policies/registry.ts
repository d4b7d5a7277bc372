import { RondoError } from '../model/errors.js';
import { createFifoPolicy } from './fifo.js';
import { createLasPolicy } from './las.js';
import type { Policy, PolicyMeta } from './types.js';

/**
 * Policies by Gavel name, plus readable aliases. `getPolicy` returns a fresh instance; policies are pure (state
 * they need travels through `snapshot.state`), so sharing an instance between schedulers is also safe.
 */

type Factory = () => Policy;

const factories = new Map<string, Factory>();
const aliasOf = new Map<string, string>();

export function registerPolicy(meta: Pick<PolicyMeta, 'name' | 'aliases'>, factory: Factory): void {
  factories.set(meta.name, factory);
  for (const a of meta.aliases) aliasOf.set(a, meta.name);
}

function reg(name: string, aliases: string[], make: (name: string, aliases: string[]) => Policy): void {
  registerPolicy({ name, aliases }, () => make(name, aliases));
}

reg('max_min_fairness', ['las', 'max-min-fairness'], (n, a) => createLasPolicy(n, a, { aware: false }));
reg('max_min_fairness_perf', ['las-aware', 'las_perf', 'max-min-fairness-perf'], (n, a) => createLasPolicy(n, a, { aware: true }));
reg('fifo', [], (n, a) => createFifoPolicy(n, a, { mode: 'base' }));
reg('fifo_perf', ['fifo-aware'], (n, a) => createFifoPolicy(n, a, { mode: 'perf' }));

function canonical(name: string): string | undefined {
  const n = name.trim();
  if (factories.has(n)) return n;
  const a = aliasOf.get(n) ?? aliasOf.get(n.toLowerCase());
  if (a) return a;
  const lower = n.toLowerCase();
  return factories.has(lower) ? lower : undefined;
}

/** The policy of a Gavel name or alias; an unknown name is a RondoError listing the known ones. */
export function getPolicy(name: string): Policy {
  const c = canonical(name);
  if (!c) {
    throw new RondoError({
      code: 'E_USAGE',
      problem: `unknown policy ${JSON.stringify(name)}`,
      expected: `one of ${[...factories.keys()].join(', ')} (aliases: ${[...aliasOf.keys()].join(', ')})`,
    });
  }
  return factories.get(c)!();
}

/** Metadata of every registered policy, by Gavel name. */
export function listPolicies(): PolicyMeta[] {
  return [...factories.values()].map((f) => f().meta);
}

export function isPolicyName(name: string): boolean {
  return canonical(name) !== undefined;
}
