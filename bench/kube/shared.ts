/** What the benchmark's two processes agree on: the cluster's products, the Jobs, and the report's shape. */

/** Node label values of the three GPU types and Rondo's names for them (as `--kube-types` maps them). */
export const BENCH_PRODUCTS: Record<string, string> = { 'Tesla-V100-SXM2-16GB': 'v100', 'Tesla-P100-PCIE-16GB': 'p100', 'Tesla-K80': 'k80' };

/** Job types of the shipped Gavel table (1 GPU) and their steps/s per product there, so the fake runs as Rondo plans. */
const SPEEDS: Record<string, [number, number, number]> = {
  'ResNet-50 (batch size 64)': [4.39, 2.62, 0.62],
  'Transformer (batch size 64)': [8.62, 5.09, 1.75],
  'LM (batch size 20)': [64.74, 58.17, 17.14],
  'Recommendation (batch size 512)': [23.32, 48.88, 32.86],
  A3C: [7.18, 5.68, 3.44],
  CycleGAN: [4.43, 2.4, 0.5],
};
export const JOB_TYPES = Object.keys(SPEEDS);
export const BENCH_SPEEDS: Record<string, Record<string, number>> = Object.fromEntries(
  Object.keys(BENCH_PRODUCTS).map((p, k) => [p, Object.fromEntries(JOB_TYPES.map((t) => [t, SPEEDS[t]![k]!]))]),
);

/** Job i: one of three queues and six job types, 1 GPU, long enough not to finish during the run. */
export function benchJob(i: number): { metadata: { name: string; namespace: string; labels: Record<string, string>; annotations: Record<string, string> }; spec: Record<string, unknown> } {
  return {
    metadata: {
      name: `job-${String(i).padStart(5, '0')}`,
      namespace: 'default',
      labels: { 'rondo.dev/queue': ['vision', 'nlp', 'research'][i % 3]! },
      annotations: { 'rondo.dev/job-type': JOB_TYPES[i % JOB_TYPES.length]!, 'rondo.dev/total-steps': String(1e7) },
    },
    spec: {
      suspend: true,
      template: {
        spec: {
          restartPolicy: 'Never',
          terminationGracePeriodSeconds: 0,
          containers: [{ name: 'train', image: 'example/train:1', resources: { limits: { 'nvidia.com/gpu': '1' } } }],
        },
      },
    },
  };
}

export interface ReportRequest {
  readonly cmd: 'report';
  readonly windows: ReadonlyArray<{ readonly from: number; readonly to: number }>;
}

export interface WindowReport {
  readonly from: number;
  readonly jobPatches: number;
  readonly statusPatches: number;
  readonly conflicts: number;
  readonly events: number;
  readonly otherWrites: number;
  readonly jobsWritten: string[];
  readonly lastJobWriteAt: number | null;
  readonly lists: string[];
  readonly watches: number;
}

/** A Job write the fake accepted or refused (PATCH of the Job or its /status), for the attribution (attribute.ts). */
export interface JobWrite {
  /** Arrival, ms since the epoch. */
  readonly at: number;
  readonly job: string;
  readonly status: number;
  /** A write to the /status subresource. */
  readonly sub?: true;
  /** What the write set spec.suspend to (an admission or a stop). */
  readonly suspend?: boolean;
  /** The write's `rondo.dev/attempt` annotation, and the Job's before the write. */
  readonly attempt?: number;
  readonly priorAttempt?: number;
  /** The write's `rondo.dev/round` annotation. */
  readonly round?: number;
}

export interface FakeReport {
  windows: WindowReport[];
  /** Every Job write of the run, in arrival order. */
  jobWrites: JobWrite[];
  violations: number;
  podsRunning: number;
  listsTotal?: string[];
  peakRssMb?: number;
  /** CPU time the fake's process used since it started. */
  cpuMs?: number;
}
