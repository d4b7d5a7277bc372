/**
 * Every registered policy name and alias is documented: a policy added to the registry without a line in
 * docs/policies.md or docs/baselines.md fails here, naming what is missing.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { listPolicies } from '../../src/policies/index.js';

const docs = ['policies.md', 'baselines.md'].map((f) => readFileSync(new URL(`../../docs/${f}`, import.meta.url), 'utf8')).join('\n');

describe('policy documentation', () => {
  it('names every registered policy and alias in backticks', () => {
    const names = listPolicies().flatMap((m) => [m.name, ...m.aliases]);
    expect(names.length).toBeGreaterThan(30);
    const missing = names.filter((n) => !docs.includes(`\`${n}\``));
    expect(missing, 'document these in docs/policies.md or docs/baselines.md').toEqual([]);
  });

  it('gives no alias to two policies', () => {
    const owner = new Map<string, string>();
    const clashes: string[] = [];
    for (const m of listPolicies()) {
      for (const n of [m.name, ...m.aliases]) {
        const key = n.toLowerCase();
        if (owner.has(key) && owner.get(key) !== m.name) clashes.push(`${n}: ${owner.get(key)} and ${m.name}`);
        owner.set(key, m.name);
      }
    }
    expect(clashes).toEqual([]);
  });
});
