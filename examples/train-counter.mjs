// The JavaScript twin of train_counter.py, using rondo's TypeScript job client (build rondo first: npm run build).
//   node examples/train-counter.mjs --steps 100
import { mkdirSync, readFileSync, renameSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { checkpointDir, onPreempt, report } from '../dist/runtime/client/job-client.js';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const total = arg('steps', 100);
const stepMs = arg('step-ms', 20);
const dir = checkpointDir();
mkdirSync(dir, { recursive: true });
const statePath = join(dir, 'state.json');
let step = 0;
try {
  step = JSON.parse(readFileSync(statePath, 'utf8')).step;
} catch {
  // no checkpoint yet
}
const stop = onPreempt();
console.log(`resuming at step ${step} of ${total}`);
while (step < total && !stop.requested) {
  await sleep(stepMs);
  step++;
  writeFileSync(statePath + '.tmp', JSON.stringify({ step }));
  renameSync(statePath + '.tmp', statePath);
  appendFileSync(join(dir, 'steps.log'), `${step} ${process.pid}\n`);
  if (step % 5 === 0 || step === total) await report({ steps: step, total });
}
await report({ steps: step, total });
console.log(step >= total ? `done: ${step} steps` : `preempted at step ${step}`);
