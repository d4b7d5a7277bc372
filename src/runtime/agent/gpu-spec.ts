import { RondoError } from '../../model/errors.js';
import { parseTier, SPOT_SUFFIX, tierTypeName, type Tier } from '../../model/spot.js';
import type { WorkerGpus } from '../protocol.js';

/**
 * Parses `TYPE:COUNT[:TIER][,...]`. A tier (`spot`/`preemptible` or `on-demand`) makes the type a tier type
 * (`v100:2:spot` registers `v100-spot`, src/model/spot.ts): the scheduler, prices and cost see spot GPUs as their own
 * type, and a spot worker's loss counts as a revocation. `tier` applies to entries without one (`worker --tier`).
 */
export function parseGpuSpec(spec: string, tier?: string): WorkerGpus[] {
  const out: WorkerGpus[] = [];
  const tierOf = (raw: string, part: string): Tier => {
    const t = parseTier(raw);
    if (!t) throw new RondoError({ code: 'E_USAGE', problem: `bad tier ${JSON.stringify(raw)}`, expected: 'spot or on-demand', found: JSON.stringify(part) });
    return t;
  };
  const fallback = tier === undefined ? 'on-demand' : tierOf(tier, `--tier ${tier}`);
  for (const part of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([A-Za-z0-9][A-Za-z0-9_.-]*):(\d{1,4})(?::([A-Za-z-]+))?$/.exec(part);
    if (!m || Number(m[2]) < 1) {
      throw new RondoError({ code: 'E_USAGE', problem: 'bad --gpus', expected: 'TYPE:COUNT[:TIER][,TYPE:COUNT[:TIER]] e.g. v100:4 or v100:2:spot', found: JSON.stringify(part) });
    }
    const gpu = m[1]!.toLowerCase();
    const t = m[3] === undefined ? fallback : tierOf(m[3], part);
    if (t === 'spot' && (gpu.endsWith(SPOT_SUFFIX) || gpu.includes('.'))) {
      throw new RondoError({ code: 'E_USAGE', problem: `GPU type ${gpu} already names a tier or region`, hint: `write the card alone with the tier, e.g. ${gpu.replace(SPOT_SUFFIX, '').split('.')[0]}:${m[2]}:spot` });
    }
    const type = t === 'spot' ? tierTypeName({ gpu, tier: 'spot', region: '' }) : gpu;
    if (out.some((g) => g.type === type)) throw new RondoError({ code: 'E_USAGE', problem: `GPU type ${type} listed twice in --gpus` });
    out.push({ type, count: Number(m[2]) });
  }
  if (out.length === 0) throw new RondoError({ code: 'E_USAGE', problem: 'empty --gpus', expected: 'e.g. v100:4' });
  return out;
}
