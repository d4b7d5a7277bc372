import { RondoError, seededRandom, type Job } from '../model/index.js';

/**
 * Gives tenants to the jobs of traces that have none (Gavel's and Shockwave's), `--assign-tenants SPEC`:
 *
 * - `random:a,b,c` — each job draws one of the names uniformly, seeded (`--seed`); `random:a=3,b=1` draws with
 *   those weights.
 * - `by-type:ResNet=vision,LM=nlp,*=other` — the first rule whose text starts the job type (case-sensitive) wins;
 *   `*` matches any type. A job no rule matches is an error.
 *
 * Jobs that already name a tenant keep it. The draw goes over the jobs in trace order, so the same trace, spec and
 * seed give the same tenants.
 */
export function assignTenants(jobs: readonly Job[], spec: string, seed: number): Job[] {
  const m = /^\s*(random|by-type)\s*:(.*)$/s.exec(spec);
  const bad = (problem: string): RondoError =>
    new RondoError({ code: 'E_USAGE', problem: `bad --assign-tenants: ${problem}`, expected: 'random:a,b[,...], random:a=3,b=1 or by-type:ResNet=vision,*=other', found: JSON.stringify(spec) });
  if (!m) throw bad('unknown form');
  const parts = m[2]!.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  if (parts.length === 0) throw bad('no tenants listed');
  if (m[1] === 'random') {
    const names: string[] = [];
    const weights: number[] = [];
    for (const p of parts) {
      const [name, w] = p.split('=').map((s) => s.trim());
      const weight = w === undefined ? 1 : Number(w);
      if (!name || !(weight > 0) || !Number.isFinite(weight)) throw bad(`tenant ${JSON.stringify(p)} needs a name and a weight above 0`);
      names.push(name);
      weights.push(weight);
    }
    const total = weights.reduce((a, b) => a + b, 0);
    const rnd = seededRandom(seed);
    return jobs.map((j) => {
      const r = rnd() * total;
      if (j.tenant !== undefined) return j;
      let acc = 0;
      let i = 0;
      for (; i < names.length - 1; i++) {
        acc += weights[i]!;
        if (r < acc) break;
      }
      return { ...j, tenant: names[i]! };
    });
  }
  const rules = parts.map((p) => {
    const eq = p.lastIndexOf('=');
    if (eq <= 0 || eq === p.length - 1) throw bad(`rule ${JSON.stringify(p)} is not <job type prefix>=<tenant>`);
    return { prefix: p.slice(0, eq).trim(), tenant: p.slice(eq + 1).trim() };
  });
  return jobs.map((j) => {
    if (j.tenant !== undefined) return j;
    const rule = rules.find((r) => r.prefix === '*' || j.jobType.startsWith(r.prefix));
    if (!rule) {
      throw new RondoError({ code: 'E_USAGE', problem: `--assign-tenants: no rule matches job ${j.id} (${j.jobType})`, hint: 'add a catch-all rule such as *=other' });
    }
    return { ...j, tenant: rule.tenant };
  });
}
