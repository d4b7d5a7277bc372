import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultTenantJobRoots } from '../../src/runtime/agent/job-rules.js';
import { AUTO_UID_BASE, autoUid, jobEnvironment, mayExecute, parseRunAs, prepareCheckpointDir, resolveIdentity } from '../../src/runtime/agent/sandbox.js';
import { checkWorkingDir } from '../../src/runtime/server/app.js';
import { defaultCheckpointRoot } from '../../src/runtime/serve.js';
import { tempDir } from './harness.js';
import { isRoot } from './procs.js';

describe('--run-as', () => {
  it('parses names, UID:GID, auto and self; rejects bad entries with the place and the fix', () => {
    const m = parseRunAs(['alice=0:0,*=auto', 'bob=self', 'carol=nobody'], true);
    expect(m.get('alice')).toMatchObject({ uid: 0, gid: 0, name: 'root' });
    expect(m.get('*')).toBe('auto');
    expect(m.get('bob')).toBe('self');
    expect(m.get('carol')).toMatchObject({ uid: 65534, name: 'nobody' });
    expect(() => parseRunAs(['alice'], true)).toThrow(/bad --run-as.*TENANT=USER/);
    expect(() => parseRunAs(['a=no-such-user-xyz'], true)).toThrow(/--run-as a: no Unix user "no-such-user-xyz"/);
    expect(() => parseRunAs(['a=1:1,a=2:2'], true)).toThrow(/lists tenant a twice/);
    expect(() => parseRunAs(['a=nobody'], false)).toThrow(/needs an agent running as root/);
  });

  it('maps unlisted tenants to a stable per-tenant uid when root, and to the agent itself otherwise', () => {
    expect(autoUid('alice')).toBe(autoUid('alice'));
    expect(autoUid('alice')).not.toBe(autoUid('bob'));
    expect(autoUid('x')).toBeGreaterThanOrEqual(AUTO_UID_BASE);
    expect(autoUid('x')).toBeLessThan(AUTO_UID_BASE + 2 ** 28);
    const m = parseRunAs(['bob=self'], true);
    expect(resolveIdentity(m, 'alice', true)).toEqual({ uid: autoUid('alice'), gid: autoUid('alice') });
    expect(resolveIdentity(m, 'bob', true)).toBeUndefined();
    expect(resolveIdentity(new Map(), 'alice', false)).toBeUndefined();
  });
});

describe('job environment', () => {
  it('keeps only the allow-list, --pass-env names, the declared variables and RONDO_*, which nothing overrides', () => {
    const env = jobEnvironment({
      agentEnv: { PATH: '/bin', LANG: 'C', LC_ALL: 'C', HOME: '/root', SECRET_KEY: 'x', RONDO_WORKER_TOKEN: 't', RONDO_TOKEN: 't', KEEP: 'k' },
      passEnv: ['KEEP', 'RONDO_TOKEN'],
      identity: { uid: 5, gid: 5 },
      checkpointDir: '/ck/job-1',
      declared: { MINE: 'm', RONDO_JOB_ID: 'forged' },
      rondo: { RONDO_JOB_ID: 'job-1' },
    });
    expect(env).toEqual({ PATH: '/bin', LANG: 'C', LC_ALL: 'C', KEEP: 'k', HOME: '/ck/job-1', MINE: 'm', RONDO_JOB_ID: 'job-1' });
  });
});

describe('checkpoint directories and working directories', () => {
  it('a job\'s checkpoint directory is 0700 and its own, under a root others cannot list', () => {
    const root = join(tempDir('ckpt'), 'ck');
    const dir = join(root, 'job-1');
    prepareCheckpointDir(dir, isRoot ? { uid: 4242, gid: 4243 } : undefined);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(root).mode & 0o777).toBe(0o711);
    if (isRoot) {
      writeFileSync(join(dir, 'state.json'), '{}');
      mkdirSync(join(dir, 'sub'));
      prepareCheckpointDir(dir, { uid: 4244, gid: 4244 }); // a new --run-as: the old files follow
      expect(statSync(join(dir, 'state.json')).uid).toBe(4244);
      expect(statSync(join(dir, 'sub')).gid).toBe(4244);
    }
  });

  it('the default checkpoint root does not reveal where the store is', () => {
    const dir = tempDir('ckroot');
    const db = join(dir, 'secret-store.db');
    const root = defaultCheckpointRoot(db, () => {});
    expect(root).not.toContain(dir);
    expect(root).not.toContain('secret-store');
    expect(defaultCheckpointRoot(join(dir, 'other.db'), () => {})).not.toBe(root);
    mkdirSync(`${db}.checkpoints`);
    const warnings: string[] = [];
    expect(defaultCheckpointRoot(db, (m) => warnings.push(m))).toBe(`${db}.checkpoints`);
    expect(warnings[0]).toMatch(/--checkpoint-dir/);
  });

  it('tenant jobs default to /home and the temporary directory', () => {
    const roots = defaultTenantJobRoots();
    expect(roots).toContain('/home');
    expect(() => checkWorkingDir('/', roots)).toThrow(/must be inside \/home or /);
    expect(() => checkWorkingDir('/root/.ssh', roots)).toThrow(/must be inside/);
    expect(() => checkWorkingDir('/home/alice/proj', roots)).not.toThrow();
  });

  it.skipIf(!isRoot)('commands are looked up as the job\'s user: what only root may reach is skipped', () => {
    const d = tempDir('exec');
    const priv = join(d, 'private');
    mkdirSync(priv, { mode: 0o700 });
    writeFileSync(join(priv, 'tool'), '#!/bin/sh\n', { mode: 0o755 });
    writeFileSync(join(d, 'tool'), '#!/bin/sh\n', { mode: 0o755 });
    writeFileSync(join(d, 'noexec'), '#!/bin/sh\n', { mode: 0o744 });
    const user = { uid: 4242, gid: 4242 };
    expect(mayExecute(join(priv, 'tool'), user)).toBe(false);
    expect(mayExecute(join(d, 'tool'), user)).toBe(true);
    expect(mayExecute(join(d, 'noexec'), user)).toBe(false);
    expect(mayExecute(join(priv, 'tool'), { uid: 0, gid: 0 })).toBe(true);
  });
});
