/**
 * The import layers of eslint.config.js, checked by linting small sources placed (in memory) at paths under src/ and web/:
 * each forbidden import must be reported and each allowed one must pass, so a loosened pattern fails here.
 */
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const RULE = '@typescript-eslint/no-restricted-imports';

let eslint: ESLint;
beforeAll(() => {
  eslint = new ESLint({ cwd: root });
});

async function boundaryErrors(filePath: string, code: string): Promise<string[]> {
  const [res] = await eslint.lintText(code, { filePath: `${root}${filePath}` });
  return res!.messages.filter((m) => m.ruleId === RULE).map((m) => m.message);
}

const FORBIDDEN: Array<[file: string, code: string, says: string]> = [
  ['src/model/probe.ts', "import { getPolicy } from '../policies/index.js';", 'nothing of ours'],
  ['src/model/probe.ts', "import type { Allocation } from '../mechanism/index.js';", 'nothing of ours'],
  ['src/solver/probe.ts', "import type { PolicySnapshot } from '../policies/types.js';", 'src/solver may import only src/model'],
  ['src/policies/probe.ts', "import { runEngine } from '../engine/index.js';", 'src/policies may import only'],
  ['src/policies/probe.ts', "import { planRound } from '../mechanism/index.js';", 'src/policies may import only'],
  ['src/mechanism/probe.ts', "import { solveLp } from '../solver/index.js';", 'src/mechanism may import only src/model'],
  ['src/io/probe.ts', "import { getPolicy } from '../policies/index.js';", 'src/io may import only src/model'],
  ['src/engine/probe.ts', "import { getPolicy } from '../policies/index.js';", 'import type'],
  ['src/engine/probe.ts', "import { PolicyError } from '../policies/types.js';", 'import type'],
  ['src/engine/probe.ts', "import { solveLp } from '../solver/index.js';", 'src/engine may import only'],
  ['src/engine/probe.ts', "import { simulate } from '../sim/index.js';", 'src/engine may import only'],
  ['src/metrics/probe.ts', "import type { EngineResult } from '../engine/loop.js';", 'only src/engine/types.js'],
  ['src/metrics/probe.ts', "import { runEngine } from '../engine/index.js';", 'only src/engine/types.js'],
  ['src/sim/probe.ts', "import { Store } from '../runtime/store.js';", 'src/sim may import only'],
  ['src/runtime/probe.ts', "import { simulate } from '../sim/simulate.js';", 'only through src/sim/index.js'],
  ['src/runtime/store/probe.ts', "import { main } from '../../cli/main.js';", 'only src/cli may import src/cli'],
  ['src/sweep/probe.ts', "import { buildWorkload } from '../cli/commands/simulate.js';", 'only src/cli may import src/cli'],
  ['src/sweep/probe.ts', "import { writeSimulationReport } from '../report/index.js';", 'src/sweep may import only'],
  ['src/report/probe.ts', "import { Store } from '../runtime/store.js';", 'src/report may import only'],
  ['src/runtime/agent/probe.ts', "import type { JobRow } from '../server/store/index.js';", 'never import src/runtime/server'],
  ['src/runtime/client/probe.ts', "import { ApiError } from '../server/api-error.js';", 'never import src/runtime/server'],
  ['src/runtime/agent/probe.ts', "import { simulate } from '../../sim/simulate.js';", 'only through src/sim/index.js'],
  ['src/runtime/dashboard-api.ts', "import type { JobRow } from './server/store/index.js';", 'it imports nothing'],
  ['src/runtime/dashboard-api.ts', "import { readFileSync } from 'node:fs';", 'it imports nothing'],
  ['web/src/views/probe.tsx', "import { Store } from '../../../src/runtime/server/store/index';", 'only the browser-safe modules'],
  ['web/src/probe.ts', "import type { JobRow } from '../../src/runtime/server/store/rows';", 'only the browser-safe modules'],
  ['web/src/probe.ts', "import { readFileSync } from 'node:fs';", 'no Node modules'],
];

const ALLOWED: Array<[file: string, code: string]> = [
  ['src/model/probe.ts', "import { RondoError } from './errors.js';"],
  ['src/solver/probe.ts', "import { RondoError } from '../model/errors.js';"],
  ['src/policies/probe.ts', "import { solveLp } from '../solver/index.js';"],
  ['src/engine/probe.ts', "import type { Policy } from '../policies/types.js';"],
  ['src/engine/probe.ts', "import { planRound } from '../mechanism/index.js';"],
  ['src/metrics/probe.ts', "import type { Clock } from '../engine/types.js';"],
  ['src/runtime/probe.ts', "import { simulate } from '../sim/index.js';"],
  ['src/runtime/store/probe.ts', "import { parseJobsSpec } from '../protocol.js';"],
  ['src/runtime/agent/probe.ts', "import type { LeaseMessage } from '../protocol.js';"],
  ['src/runtime/agent/probe.ts', "import { ApiClient } from '../client/http-client.js';"],
  ['src/runtime/server/probe.ts', "import type { Store } from './store/index.js';"],
  ['src/sweep/probe.ts', "import { simulate } from '../sim/index.js';"],
  ['src/cli/commands/probe.ts', "import { getPolicy } from '../../policies/index.js';"],
  ['src/runtime/server/probe.ts', "import type { QueueRow } from '../dashboard-api.js';"],
  ['web/src/probe.ts', "import { ApiError } from '../../src/runtime/dashboard-api';"],
  ['web/src/views/probe.tsx', "import { shapeProblem } from '../../../src/model/worker-fit';"],
  ['web/src/probe.ts', "import { gpuTypeColor } from '../../src/report/gpu-colors';"],
];

describe('import layers (eslint.config.js)', () => {
  it.each(FORBIDDEN)('%s: %s is reported', async (file, code, says) => {
    const errors = await boundaryErrors(file, code);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(says);
  }, 60_000);

  it.each(ALLOWED)('%s: %s passes', async (file, code) => {
    expect(await boundaryErrors(file, code)).toEqual([]);
  }, 60_000);
});
