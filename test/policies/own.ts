/**
 * The policies built in this folder's Gavel set (others, e.g. literature baselines, register into the same registry
 * and carry their own tests).
 */
export const GAVEL_SET = [
  'max_min_fairness',
  'max_min_fairness_perf',
  'max_min_fairness_water_filling',
  'max_min_fairness_water_filling_perf',
  'max_min_fairness_hierarchical',
  'max_min_fairness_hierarchical_perf',
  'fifo_hierarchical',
  'fifo_hierarchical_perf',
  'finish_time_fairness',
  'finish_time_fairness_perf',
  'fifo',
  'fifo_perf',
  'min_total_duration',
  'min_total_duration_perf',
  'max_sum_throughput_perf',
  'max_sum_throughput_normalized_by_cost_perf',
  'max_sum_throughput_normalized_by_cost_perf_SLOs',
  'isolated',
  'shortest_job_first',
] as const;
