/**
 * Readable policy names for reports, as Gavel's paper names them (Narayanan et al., OSDI 2020: "LAS", "Gavel" for
 * the heterogeneity-aware form, "w/ SS" with space sharing), with the id kept beside them in tables so a reader
 * can rerun a point. Unknown ids (a POP wrapper, a plug-in) are shown as given.
 */
const NAMES: Readonly<Record<string, string>> = {
  max_min_fairness: 'LAS',
  max_min_fairness_perf: 'Gavel (LAS)',
  max_min_fairness_packed: 'Gavel (LAS w/ SS)',
  max_min_fairness_water_filling: 'LAS, water filling',
  max_min_fairness_water_filling_perf: 'Gavel (LAS, water filling)',
  max_min_fairness_hierarchical: 'Hierarchical LAS',
  max_min_fairness_hierarchical_perf: 'Gavel (hierarchical LAS)',
  fifo_hierarchical: 'Hierarchical FIFO',
  fifo_hierarchical_perf: 'Gavel (hierarchical FIFO)',
  finish_time_fairness: 'FTF (Themis)',
  finish_time_fairness_perf: 'Gavel (FTF)',
  finish_time_fairness_packed: 'Gavel (FTF w/ SS)',
  fifo: 'FIFO',
  fifo_perf: 'Gavel (FIFO)',
  fifo_packed: 'Gavel (FIFO w/ SS)',
  min_total_duration: 'Makespan',
  min_total_duration_perf: 'Gavel (makespan)',
  min_total_duration_packed: 'Gavel (makespan w/ SS)',
  max_sum_throughput_perf: 'Gavel (max total throughput)',
  max_sum_throughput_normalized_by_cost_perf: 'Gavel (min cost)',
  max_sum_throughput_normalized_by_cost_perf_SLOs: 'Gavel (min cost, SLOs)',
  isolated: 'Isolated (equal share)',
  shortest_job_first: 'SRTF',
  sjf_nonpreemptive: 'SJF (non-preemptive)',
  srtf_preemptive: 'SRTF (preemptive)',
  tiresias: 'Tiresias (2D-LAS)',
  tiresias_gittins: 'Tiresias (Gittins)',
  gandiva: 'Gandiva',
  allox: 'AlloX',
  themis_auction: 'Themis (auction)',
  shockwave: 'Shockwave',
  shockwave_milp: 'Shockwave (MILP)',
};

/** The readable name of a policy id, e.g. "Gavel (LAS)" for max_min_fairness_perf. */
export function policyName(id: string): string {
  return NAMES[id] ?? id;
}

/** "Gavel (LAS) (max_min_fairness_perf)": for tables, where the id lets a reader rerun the point. */
export function policyNameWithId(id: string): string {
  const n = policyName(id);
  return n === id ? id : `${n} (${id})`;
}
