#!/usr/bin/env node
// Rebuilds data/spot/ (Rondo capacity and price traces) from the third-party spot dataset described in
// ../shared/data/spot/README.md. Usage: node scripts/spot-data.mjs [SRC_DIR] [OUT_DIR] [START_ISO]
// Defaults: ../shared/data/spot, data/spot, 2024-10-01T00:00:00Z (the first week with spot prices for every card).
import { readFileSync, writeFileSync, mkdirSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';

const src = process.argv[2] ?? join(import.meta.dirname, '../../shared/data/spot');
const out = process.argv[3] ?? join(import.meta.dirname, '../data/spot');
const start = Date.parse(process.argv[4] ?? '2024-10-01T00:00:00Z');
mkdirSync(out, { recursive: true });

const csv = (file) => {
  const [head, ...rows] = readFileSync(join(src, file), 'utf8').split(/\r?\n/).filter((l) => l.trim() !== '');
  const cols = head.split(',');
  return rows.map((r) => Object.fromEntries(r.split(',').map((v, i) => [cols[i], v])));
};
const round6 = (v) => Math.round(v * 1e6) / 1e6;

// --- Prices: one GPU of each 1-GPU machine type (whole-VM price: GPU + its vCPUs and RAM), per GPU-hour.
const ONE_GPU = new Set(['a2-highgpu-1g', 'a2-ultragpu-1g', 'a3-highgpu-1g', 'g2-standard-4']);
const series = new Map(); // key -> [{t, p}]
for (const r of csv('spot_prices.csv')) {
  if (!ONE_GPU.has(r.instance_type)) continue;
  const key = `${r.gpu_type},spot,${r.region}`;
  const t = Date.parse(r.timestamp);
  const list = series.get(key) ?? [];
  list.push({ t, p: Number(r.price_usd_per_hour) / Number(r.gpus) });
  series.set(key, list);
}
const rows = [];
for (const [key, list] of series) {
  list.sort((a, b) => a.t - b.t);
  // The price in force at the start is the last snapshot before it; series that start later are left out.
  const before = list.filter((x) => x.t <= start);
  if (before.length === 0) continue;
  let last = before[before.length - 1].p;
  rows.push({ t: 0, key, p: last });
  for (const x of list) {
    if (x.t <= start || x.p === last) continue;
    rows.push({ t: Math.round((x.t - start) / 1000), key, p: x.p });
    last = x.p;
  }
}
// On-demand: the source has one snapshot (2026-07-30), held for the whole span (docs/formats.md says so).
for (const r of csv('on_demand_prices.csv')) {
  if (r.provider !== 'gcp' || !ONE_GPU.has(r.instance_type)) continue;
  rows.push({ t: 0, key: `${r.gpu_type},on-demand,${r.region}`, p: Number(r.on_demand_usd_per_hour) / Number(r.gpus) });
}
rows.sort((a, b) => a.t - b.t || (a.key < b.key ? -1 : 1));
writeFileSync(
  join(out, 'gcp-prices.csv'),
  `# GCP GPU prices per GPU-hour (1-GPU machine types, whole-VM price), time_s from ${new Date(start).toISOString()}.\n` +
    '# Derived by scripts/spot-data.mjs from Cyclenerd/google-cloud-pricing-cost-calculator (Apache-2.0, LICENSE-Cyclenerd-google-cloud-pricing-cost-calculator).\n' +
    'time_s,gpu_type,tier,region,usd_per_gpu_hour\n' +
    rows.map((r) => `${r.t},${r.key},${round6(r.p)}`).join('\n') + '\n',
);

// --- Capacity: Bamboo's traces (MIT). AWS gives a 120 s interruption notice, GCP 30 s.
function counts(file, gpu, region, notice) {
  const byTime = new Map();
  for (const r of csv(join('traces/converted', file))) byTime.set(Number(r.timestamp_s), Number(r.count_or_nodes));
  return emit([...byTime].sort((a, b) => a[0] - b[0]), gpu, region, notice);
}
function nodes(file, gpu, notice) {
  const byTime = new Map();
  let n = 0;
  for (const r of csv(join('traces/converted', file))) {
    n += r.event === 'acquired' ? 1 : -1;
    byTime.set(Number(r.timestamp_s), n);
  }
  const steps = [...byTime].sort((a, b) => a[0] - b[0]);
  if (steps[0][0] > 0) steps.unshift([0, 0]);
  return emit(steps, gpu, '', notice);
}
function emit(steps, gpu, region, notice) {
  const lines = [];
  let prev;
  for (const [t, v] of steps) {
    if (v === prev) continue;
    const dec = prev !== undefined && v < prev;
    lines.push(`${t},${gpu},spot,${region},${v},${dec ? Math.min(notice, t) : ''}`);
    prev = v;
  }
  return lines;
}
const capacity = (name, what, lines) =>
  writeFileSync(
    join(out, name),
    `# ${what}\n# Derived by scripts/spot-data.mjs from uclasystem/bamboo (MIT, LICENSE-uclasystem-bamboo).\ntime_s,gpu_type,tier,region,gpus,notice_s\n${lines.join('\n')}\n`,
  );
capacity('bamboo-gcp-a100-us-east1.csv', 'Preemptible 1xA100 VMs running in GCP us-east1-b, 2021-12-11/12 (Bamboo); 30 s notice.', counts('bamboo_gcp_a100x1_us-east1-b_counts.csv', 'a100', 'us-east1', 30));
capacity('bamboo-gcp-v100-us-east1.csv', 'Preemptible 1xV100 VMs running in GCP us-east1-c, 2021-12-10/11 (Bamboo); 30 s notice.', counts('bamboo_gcp_v100x1_us-east1-c_counts.csv', 'v100', 'us-east1', 30));
capacity('bamboo-p3.csv', 'AWS p3 spot nodes (1 V100 each), Bamboo add/remove trace; 120 s notice.', nodes('bamboo_p3_node_events.csv', 'v100', 120));
capacity('bamboo-g4dn.csv', 'AWS g4dn spot nodes (1 T4 each), Bamboo add/remove trace; 120 s notice.', nodes('bamboo_g4dn_node_events.csv', 't4', 120));
for (const f of ['LICENSE-Cyclenerd-google-cloud-pricing-cost-calculator', 'LICENSE-uclasystem-bamboo']) copyFileSync(join(src, f), join(out, f));
console.log(`wrote ${out}`);
