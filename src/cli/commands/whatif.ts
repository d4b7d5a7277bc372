import type { Command } from 'commander';
import { RondoError } from '../../model/errors.js';
import { call, clientFrom, jsonText, positiveInt, table } from '../../runtime/client/cli-support.js';

interface WhatIfFlags {
  server?: string;
  token?: string;
  gpus?: string;
  steps?: string;
  rate?: string;
  duration?: string;
  gpuTypes?: string;
  json?: boolean;
}

interface Est {
  id: string;
  remainingSteps: number;
  estimatedStart: string | null;
  estimatedFinish: string | null;
  lengthUnknown: boolean;
}

const when = (iso: string | null, now: number): string => (iso === null ? 'never' : `${iso} (in ${Math.max(0, Math.round((Date.parse(iso) - now) / 1000))} s)`);

export function register(program: Command): void {
  program
    .command('whatif')
    .description('estimate start and finish times by simulating the live cluster forward, optionally with one more job')
    .option('--server <url>', 'server URL (default $RONDO_SERVER or http://127.0.0.1:8470)')
    .option('--token <token>', 'API token (default $RONDO_TOKEN or ./rondo.db.admin-token)')
    .option('--gpus <n>', 'a hypothetical job of this many GPUs arriving now')
    .option('--steps <n>', 'its steps (with --rate steps/s, default 1)')
    .option('--rate <steps/s>', 'its throughput on each GPU type')
    .option('--duration <s>', 'or: its run time alone, in seconds')
    .option('--gpu-types <list>', 'GPU types it may use')
    .option('--json', 'print JSON')
    .action(async (f: WhatIfFlags) => {
      const num = (flag: string, v: string | undefined): number | undefined => {
        if (v === undefined) return undefined;
        const n = Number(v);
        if (!Number.isFinite(n) || n <= 0) throw new RondoError({ code: 'E_USAGE', problem: `bad ${flag}`, expected: 'a number above 0', found: v });
        return n;
      };
      const hyp = f.gpus ?? f.steps ?? f.duration ?? f.rate ?? f.gpuTypes;
      const body = hyp
        ? {
            scaleFactor: Math.max(1, positiveInt('--gpus', f.gpus ?? '1', 1024)),
            ...(f.steps ? { totalSteps: num('--steps', f.steps) } : {}),
            ...(f.rate ? { stepsPerSecond: num('--rate', f.rate) } : {}),
            ...(f.duration ? { durationS: num('--duration', f.duration) } : {}),
            ...(f.gpuTypes ? { gpuTypes: f.gpuTypes.split(',').map((s) => s.trim().toLowerCase()) } : {}),
          }
        : {};
      const client = clientFrom(f);
      const r = await call(() => client.post<{ now: string; policy: string; jobs: Est[]; hypothetical?: Est }>('/api/v1/whatif', body));
      if (f.json) {
        process.stdout.write(jsonText(r) + '\n');
        return;
      }
      const now = Date.parse(r.now);
      const rows = [['JOB', 'REMAINING STEPS', 'ESTIMATED START', 'ESTIMATED FINISH']];
      for (const j of r.jobs) rows.push([j.id, j.lengthUnknown ? '?' : String(Math.round(j.remainingSteps)), when(j.estimatedStart, now), when(j.estimatedFinish, now)]);
      if (r.hypothetical) rows.push(['(new job)', String(Math.round(r.hypothetical.remainingSteps)), when(r.hypothetical.estimatedStart, now), when(r.hypothetical.estimatedFinish, now)]);
      process.stdout.write(`policy ${r.policy}; estimates assume no further arrivals and today's throughputs\n` + table(rows));
    });
}
