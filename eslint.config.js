// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/*
 * Layers of src/ (docs/architecture.md): each top-level folder may import only the folders below it. Enforced with
 * @typescript-eslint/no-restricted-imports (it can allow `import type` where only types may cross), one `files` block
 * per folder. Imports are relative, so a pattern names a folder reached through `../`: `^(\.\./)+policies(/|$)`.
 * test/lint/boundaries.test.ts lints bad imports against this file, so the rules cannot rot unnoticed.
 */
const FOLDERS = ['cli', 'engine', 'estimate', 'io', 'kube', 'mechanism', 'metrics', 'model', 'policies', 'report', 'runtime', 'sim', 'solver', 'sweep'];

/** The modules of src/ the dashboard (web/) shares with the server: pure, with no Node import. */
const WEB_SHARED = ['runtime/dashboard-api', 'model/worker-fit', 'report/gpu-colors'];

/** A relative import reaching src/<folder> (optionally only paths under it matching `rest`). */
const to = (folder, rest = '(/|$)') => `^(\\.\\./)+${folder}${rest}`;

/**
 * The import rule for src/<folder>: it may import `allowed` folders (and itself); `extra` adds finer patterns.
 * Every folder but cli is kept out of src/cli.
 */
function layer(folder, allowed, extra = []) {
  const banned = FOLDERS.filter((f) => f !== folder && !allowed.includes(f));
  return {
    files: [`src/${folder}/**/*.ts`],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            ...banned.map((f) => ({
              regex: to(f),
              message: f === 'cli'
                ? 'only src/cli may import src/cli: move shared logic below it (src/sim, src/io, ...).'
                : allowed.length
                  ? `src/${folder} may import only ${allowed.map((a) => `src/${a}`).join(', ')} (layers: docs/architecture.md).`
                  : `src/${folder} may import nothing of ours (layers: docs/architecture.md).`,
            })),
            ...extra,
          ],
        },
      ],
    },
  };
}

/**
 * src/runtime is three parts: server/ (API, store, scheduler), agent/ (worker agent), client/ (CLI and job client),
 * sharing protocol.ts. The agent and the client talk to the server over HTTP and never import it. A second block on
 * the same rule replaces the first for its files, so it repeats the runtime's own patterns.
 */
function runtimeLayers() {
  const allowed = ['model', 'solver', 'policies', 'mechanism', 'io', 'engine', 'metrics', 'sim', 'estimate'];
  const sim = { regex: to('sim', '/(?!index\\.js$)'), message: 'src/runtime may use the simulator only through src/sim/index.js.' };
  const server = {
    regex: '^(\\.\\./)+server(/|$)',
    message: 'src/runtime/agent and src/runtime/client talk to the server over HTTP (src/runtime/protocol.ts); they never import src/runtime/server.',
  };
  return [layer('runtime', allowed, [sim]), { ...layer('runtime', allowed, [sim, server]), files: ['src/runtime/agent/**/*.ts', 'src/runtime/client/**/*.ts'] }];
}

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'test-artifacts/**', 'bench/results/**', 'web/dist/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  layer('model', []),
  layer('solver', ['model']),
  layer('policies', ['model', 'solver']),
  layer('mechanism', ['model']),
  layer('io', ['model']),
  // Throughput estimation is pure arithmetic over the model's tables.
  layer('estimate', ['model']),
  // The engine sees policies only through their types (the policy object is passed in).
  layer('engine', ['model', 'mechanism', 'policies'], [
    { regex: to('policies', '(/(?!types\\.js$)|$)'), message: 'src/engine may use only `import type` from src/policies/types.js.' },
    { regex: to('policies', '/types\\.js$'), allowTypeImports: true, message: 'src/engine may use only `import type` from src/policies/types.js.' },
  ]),
  // Metrics read the engine's result types, not its implementation.
  layer('metrics', ['model', 'engine'], [
    { regex: to('engine', '(/(?!types\\.js$)|$)'), message: 'src/metrics may import only src/engine/types.js (the result types), not the engine itself.' },
  ]),
  // The simulator and the runtime are both engine users; what-if reaches the simulator through its public entry.
  layer('sim', ['model', 'solver', 'policies', 'mechanism', 'io', 'engine', 'metrics', 'estimate']),
  ...runtimeLayers(),
  // The Kubernetes driver talks to the server through its REST API: it needs the wire types and the server handle.
  layer('kube', ['model', 'runtime']),
  layer('sweep', ['model', 'solver', 'policies', 'mechanism', 'io', 'engine', 'metrics', 'sim', 'estimate']),
  layer('report', ['model', 'solver', 'policies', 'mechanism', 'io', 'engine', 'metrics', 'sim', 'sweep', 'estimate']),
  layer('cli', FOLDERS),
  // Bundled into the dashboard as it is (web/src/api.ts): the API's shapes and error, with no import of any kind.
  {
    files: ['src/runtime/dashboard-api.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', { patterns: [{ regex: '.', message: 'src/runtime/dashboard-api.ts goes into the browser bundle as it is: it imports nothing.' }] }],
    },
  },
  // The dashboard runs in the browser: of src/ it may import only the pure modules it shares with the server.
  {
    files: ['web/**/*.ts', 'web/**/*.tsx'],
    ignores: ['web/vite.config.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: `^(\\.\\./)+src/(?!(${WEB_SHARED.join('|')})(\\.js)?$)`,
              message: `web/ may import from src/ only the browser-safe modules shared with the server: ${WEB_SHARED.map((m) => `src/${m}.ts`).join(', ')}.`,
            },
            { regex: '^node:', message: 'web/ runs in the browser: no Node modules.' },
          ],
        },
      ],
    },
  },
);
