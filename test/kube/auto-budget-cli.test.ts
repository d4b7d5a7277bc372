/**
 * The automatic change budget through the CLI: `rondo serve --kube` uses it without being asked (its gauges in
 * /metrics, its log line), and bad `--max-changes` / `--change-window` values are refused before anything starts.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, freePort, killAll, rondo, tempDir, waitFor } from '../runtime/harness.js';
import { FakeApiServer } from './fake-apiserver.js';
import { FakeCluster } from './fake-cluster.js';
import { trainingJob } from './setup.js';

beforeAll(() => ensureBuilt(), 180_000);
afterEach(async () => killAll());

let api: FakeApiServer | undefined;
let cluster: FakeCluster | undefined;
afterAll(async () => {
  cluster?.stop();
  await api?.stop();
});

const TYPES = ['--kube-types', 'Tesla-V100-SXM2-16GB=v100'];

describe('rondo serve: --max-changes and --change-window', () => {
  it('refuses bad values with the flag and the fix, before the store is created', async () => {
    const dir = tempDir('budget-flags');
    const cases: Array<[string[], RegExp]> = [
      [['--max-changes', 'auto'], /--max-changes auto needs --kube/],
      [['--max-changes', '0', '--kube', ...TYPES], /bad --max-changes.*a positive integer.*auto or none/],
      [['--kube', ...TYPES, '--round', '20', '--change-window', '20'], /bad --change-window.*less than the round \(20 s\)/],
      [['--kube', ...TYPES, '--change-window', '-1'], /bad --change-window/],
      [['--kube', ...TYPES, '--max-changes', 'none', '--change-window', '2'], /--change-window applies only to the automatic change budget/],
      [['--change-window', '2'], /--change-window applies only/],
    ];
    for (const [i, [args, want]] of cases.entries()) {
      const db = join(dir, `r${i}.db`);
      const p = rondo(['serve', '--db', db, '--port', '0', '--quiet', ...args]);
      const { code } = await p.exited;
      expect(code, args.join(' ')).not.toBe(0);
      expect(p.stderr, args.join(' ')).toMatch(want);
      expect(existsSync(db), `${args.join(' ')}: no store`).toBe(false);
    }
  }, 120_000);

  it('rondo serve --kube plans with the automatic budget by default: gauges in /metrics, a log line', async () => {
    api = new FakeApiServer();
    await api.start();
    cluster = new FakeCluster(api, { throughputs: { 'Tesla-V100-SXM2-16GB': { resnet: 10 } }, speedup: 1 });
    cluster.addNode('v100-a', 'Tesla-V100-SXM2-16GB', 4);
    cluster.start();
    const dir = tempDir('budget-cli');
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, api.kubeconfig());
    for (let i = 0; i < 10; i++) api.create('jobs', trainingJob(`b${i}`, { queue: 'q', steps: 1_000_000 }));
    const port = await freePort();
    const srv = rondo(['serve', '--db', join(dir, 'rondo.db'), '--port', String(port), '--round', '2', '--grace', '0.5', '--heartbeat', '0.2', '--worker-timeout', '5',
      '--kube', '--kubeconfig', kubeconfig, ...TYPES]);
    await waitFor('rondo to listen', () => {
      if (srv.child.exitCode !== null) throw new Error(`rondo exited: ${srv.stderr.slice(-2000)}`);
      return srv.stdout.includes('listening on');
    }, 120_000);
    const token = readFileSync(join(dir, 'rondo.db.admin-token'), 'utf8').trim();
    const metrics = (): Promise<string> => fetch(`http://127.0.0.1:${port}/metrics`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.text());
    // The default window is a tenth of the 2 s round; before any write the budget is the floor (12/s x 0.2 s < 8).
    const text = await waitFor('a plan made with the budget', async () => {
      const t = await metrics();
      return /^rondo_change_budget \d+$/m.test(t) ? t : undefined;
    }, 120_000);
    expect(text).toMatch(/^rondo_kube_change_window_seconds 0\.2$/m);
    expect(text).toMatch(/^rondo_kube_change_budget \d+$/m);
    expect(text).toMatch(/^rondo_kube_changes_per_second /m);
    await waitFor('the budget in the log', () => /\[kube\] change budget \d+: [\d.]+ changes\/s measured x \(0\.7 x 0\.2 s window - [\d.]+ s latency\)/.test(srv.stderr), 60_000);
  }, 300_000);
});
