import { RondoError } from '../model/errors.js';
import { normaliseGpuType } from '../model/cluster.js';
import { bufferToText, readInput } from './input.js';

/**
 * A tenant tree from Helios' per-VC GPU quotas (S-Lab-System-Group/HeliosData, CC-BY-4.0, Hu et al., SC'21):
 * `Venus/cluster_gpu_number.csv`, columns `date,<VC ids>,total`, the GPUs allotted to each virtual cluster per day.
 * Each VC with GPUs on the chosen day becomes a tenant guaranteed that many GPUs of `gpuType` (the file has counts
 * only), weight 1, fair inside; VCs with 0 GPUs that day are left out. Helios' job log is not public, so there is no
 * job importer; pair the tree with jobs given tenants by `--assign-tenants random:<the VC ids>`.
 */
export function heliosTenants(file: string, date: string, gpuType = 'v100'): { tenants: Array<{ name: string; guarantee: Record<string, number> }>; totalGpus: number } {
  const text = bufferToText(readInput(file), file);
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  const head = lines[0]!.split(',').map((s) => s.trim());
  if (head[0] !== 'date' || head[head.length - 1] !== 'total' || head.length < 3) {
    throw new RondoError({ code: 'E_SCHEMA', file, line: 1, problem: 'not a Helios cluster_gpu_number.csv header', expected: 'date,<VC ids>,total', found: lines[0]!.slice(0, 60) });
  }
  const t = normaliseGpuType(gpuType);
  const i = lines.findIndex((l) => l.startsWith(`${date},`));
  if (i < 1) {
    throw new RondoError({ code: 'E_USAGE', file, problem: `no row for date ${date}`, hint: `dates run from ${lines[1]!.split(',')[0]} to ${lines[lines.length - 1]!.split(',')[0]}` });
  }
  const cells = lines[i]!.split(',');
  if (cells.length !== head.length) throw new RondoError({ code: 'E_COLUMNS', file, line: i + 1, problem: `${cells.length} columns`, expected: `${head.length}` });
  const tenants: Array<{ name: string; guarantee: Record<string, number> }> = [];
  let sum = 0;
  for (let c = 1; c < head.length - 1; c++) {
    const n = Number(cells[c]);
    if (!Number.isInteger(n) || n < 0) throw new RondoError({ code: 'E_NUMBER', file, line: i + 1, problem: `bad GPU count for ${head[c]}`, expected: 'an integer >= 0', found: JSON.stringify(cells[c]) });
    sum += n;
    if (n > 0) tenants.push({ name: head[c]!, guarantee: { [t]: n } });
  }
  const total = Number(cells[cells.length - 1]);
  if (total !== sum) throw new RondoError({ code: 'E_RANGE', file, line: i + 1, problem: `the VCs add up to ${sum} GPUs, the total column says ${total}` });
  return { tenants, totalGpus: total };
}
