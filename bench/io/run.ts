/**
 * Reading speed of the input files every run starts with: the shipped Gavel throughput matrix and the shipped
 * msr trace, best of 9 parses each (the first parse warms the JIT and is not counted). Targets: the matrix under
 * 100 ms, the trace under 50 ms. These were timed assertions in unit tests once; on a loaded 2-core CI machine they
 * failed for reasons that had nothing to do with the parser, so the numbers live here. Writes bench/results/io.json.
 *
 *   npm run bench:io
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseJobs, parseThroughputs, writeFileAtomic } from '../../src/io/index.js';
import { repoRoot } from '../root.js';

const root = repoRoot(dirname(fileURLToPath(import.meta.url)));

function bestOf(n: number, f: () => unknown): number {
  f();
  let best = Infinity;
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    f();
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

const matrixText = readFileSync(join(root, 'data/gavel/simulation_throughputs.json'), 'utf8');
const traceDir = join(root, 'data/gavel/traces/msr');
const traceFile = readdirSync(traceDir).find((f) => f.endsWith('.trace'));
if (!traceFile) throw new Error(`bench:io: no .trace file in ${traceDir}; the shipped data is incomplete (run git checkout -- data)`);
const traceText = readFileSync(join(traceDir, traceFile), 'utf8');
const jobs = parseJobs(traceText).jobs.length;

const cases = [
  { name: 'throughput matrix (data/gavel/simulation_throughputs.json)', ms: bestOf(9, () => parseThroughputs(matrixText)), targetMs: 100 },
  { name: `msr trace, ${jobs} jobs (data/gavel/traces/msr/${traceFile})`, ms: bestOf(9, () => parseJobs(traceText)), targetMs: 50 },
].map((c) => ({ ...c, ms: Math.round(c.ms * 100) / 100, met: c.ms < c.targetMs }));

writeFileAtomic(join(root, 'bench', 'results', 'io.json'), `${JSON.stringify({ date: new Date().toISOString(), node: process.version, cases }, null, 2)}\n`);
for (const c of cases) console.log(`${c.name}: best ${c.ms} ms (target < ${c.targetMs} ms) ${c.met ? 'met' : 'NOT met'}`);
