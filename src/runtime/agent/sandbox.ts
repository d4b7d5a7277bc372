import { chmodSync, chownSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { RondoError } from '../../model/errors.js';

/**
 * What a job runs as and with: the Unix identity per tenant (`--run-as`), the environment allow-list, and the
 * per-job checkpoint directory. Isolation between tenants rests on Unix users: processes of one user can read each
 * other's `/proc/<pid>/environ` and memory, so only jobs under different users are kept apart (docs/runtime.md,
 * "Security model").
 */

/** A Unix identity a job runs as. `home` is set for users from /etc/passwd. */
export interface JobIdentity {
  readonly uid: number;
  readonly gid: number;
  readonly name?: string;
  readonly home?: string;
  readonly shell?: string;
}

/** `self`: the agent's own user; `auto`: a per-tenant uid (autoUid); else a fixed identity. */
export type RunAsTarget = 'self' | 'auto' | JobIdentity;

/** Tenant -> target; the key `*` is every tenant not listed. */
export type RunAsMap = ReadonlyMap<string, RunAsTarget>;

/** First uid of the `auto` range; the range holds 2^28 ids, far above the ids distributions hand out. */
export const AUTO_UID_BASE = 0x4000_0000;

/** A per-tenant uid (= gid) from the tenant's name: FNV-1a, so every agent maps a tenant to the same id. */
export function autoUid(tenant: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(tenant, 'utf8')) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return AUTO_UID_BASE + (h & 0x0fff_ffff);
}

interface PasswdEntry {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
  readonly shell: string;
}

function passwd(): PasswdEntry[] {
  let text = '';
  try {
    text = readFileSync('/etc/passwd', 'utf8');
  } catch {
    return [];
  }
  const out: PasswdEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length < 7 || !/^\d+$/.test(f[2]!) || !/^\d+$/.test(f[3]!)) continue;
    out.push({ name: f[0]!, uid: Number(f[2]), gid: Number(f[3]), home: f[5]!, shell: f[6]! });
  }
  return out;
}

function identityOf(spec: string, where: string): RunAsTarget {
  if (spec === 'self' || spec === 'auto') return spec;
  const num = /^(\d{1,10}):(\d{1,10})$/.exec(spec);
  const users = passwd();
  if (num) {
    const uid = Number(num[1]);
    const gid = Number(num[2]);
    if (uid > 0xffff_fffe || gid > 0xffff_fffe) throw new RondoError({ code: 'E_USAGE', problem: `${where}: uid or gid out of range`, found: spec });
    const u = users.find((e) => e.uid === uid);
    return { uid, gid, ...(u ? { name: u.name, home: u.home, shell: u.shell } : {}) };
  }
  const u = users.find((e) => e.name === spec);
  if (!u) {
    throw new RondoError({ code: 'E_USAGE', problem: `${where}: no Unix user ${JSON.stringify(spec)} on this machine`, expected: 'a user name from /etc/passwd, UID:GID, auto or self' });
  }
  return { uid: u.uid, gid: u.gid, name: u.name, home: u.home, shell: u.shell };
}

/**
 * Parses `--run-as TENANT=USER[,TENANT=USER...]` (USER: a name, UID:GID, `auto` or `self`; TENANT `*` for the
 * rest). Mapping to another user needs root: the error says so at start rather than at the first job.
 */
export function parseRunAs(specs: readonly string[], isRoot = process.getuid?.() === 0): Map<string, RunAsTarget> {
  const out = new Map<string, RunAsTarget>();
  for (const part of specs.flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq <= 0 || eq === part.length - 1) {
      throw new RondoError({ code: 'E_USAGE', problem: 'bad --run-as', expected: 'TENANT=USER, e.g. alice=alice,*=nobody (USER: name, UID:GID, auto or self)', found: JSON.stringify(part) });
    }
    const tenant = part.slice(0, eq);
    if (out.has(tenant)) throw new RondoError({ code: 'E_USAGE', problem: `--run-as lists tenant ${tenant} twice` });
    const target = identityOf(part.slice(eq + 1), `--run-as ${tenant}`);
    if (!isRoot && target !== 'self' && !(typeof target === 'object' && target.uid === process.getuid?.())) {
      throw new RondoError({ code: 'E_USAGE', problem: `--run-as ${part}: running jobs as another user needs an agent running as root`, hint: 'start the worker as root, or drop --run-as' });
    }
    out.set(tenant, target);
  }
  return out;
}

/**
 * The identity a tenant's job runs as, or undefined for the agent's own user. An agent running as root maps
 * tenants it was not told about to `auto` (a per-tenant uid): a job never runs as root unless `--run-as` says so.
 */
export function resolveIdentity(map: RunAsMap, tenant: string, isRoot: boolean): JobIdentity | undefined {
  const target = map.get(tenant) ?? map.get('*') ?? (isRoot ? 'auto' : 'self');
  if (target === 'self') return undefined;
  if (target === 'auto') return { uid: autoUid(tenant), gid: autoUid(tenant) };
  return target;
}

/** Variables a job gets from the agent's environment: nothing else of it reaches a job. */
const ALLOWED = new Set(['PATH', 'LANG', 'LANGUAGE', 'TZ', 'TMPDIR']);

/**
 * A job's environment: the allow-list (plus `LC_*` and the operator's `--pass-env` names) from the agent, the
 * user's identity variables, what the job declared, then the RONDO_* variables, which nothing overrides.
 */
export function jobEnvironment(opts: {
  readonly agentEnv: NodeJS.ProcessEnv;
  readonly passEnv: readonly string[];
  readonly identity: JobIdentity | undefined;
  readonly checkpointDir: string;
  readonly declared: Readonly<Record<string, string>>;
  readonly rondo: Readonly<Record<string, string>>;
}): Record<string, string> {
  const env: Record<string, string> = {};
  const pass = new Set(opts.passEnv);
  for (const [k, v] of Object.entries(opts.agentEnv)) {
    if (v !== undefined && (ALLOWED.has(k) || k.startsWith('LC_') || pass.has(k)) && !k.startsWith('RONDO_')) env[k] = v;
  }
  env.PATH ??= '/usr/local/bin:/usr/bin:/bin';
  const id = opts.identity;
  if (!id) {
    for (const k of ['HOME', 'USER', 'LOGNAME', 'SHELL']) if (opts.agentEnv[k] !== undefined) env[k] = opts.agentEnv[k]!;
  } else {
    // A user without a passwd entry (auto) gets its checkpoint directory as HOME: the one place it may write.
    env.HOME = id.home && id.home !== '/nonexistent' ? id.home : opts.checkpointDir;
    if (id.name) env.USER = env.LOGNAME = id.name;
    if (id.shell) env.SHELL = id.shell;
  }
  return Object.assign(env, opts.declared, opts.rondo);
}

/**
 * Creates a job's checkpoint directory, mode 0700 and owned by the job's user, so no other user's job can read or
 * write it. Its parent (the checkpoint root) is made 0711 when this agent owns it: jobs pass through it to their
 * own directory but cannot list the others.
 */
export function prepareCheckpointDir(dir: string, identity: JobIdentity | undefined): void {
  const root = dirname(dir);
  const existed = statSync(root, { throwIfNoEntry: false });
  mkdirSync(root, { recursive: true, mode: 0o711 });
  const rs = statSync(root);
  if (!existed || rs.uid === process.getuid?.()) chmodSync(root, 0o711);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = lstatSync(dir);
  if (!st.isDirectory()) throw new Error(`${dir} is not a directory`);
  chmodSync(dir, 0o700);
  if (identity && (st.uid !== identity.uid || st.gid !== identity.gid)) chownTree(dir, identity.uid, identity.gid);
}

/** Hands a checkpoint directory written under another identity (an earlier `--run-as`) to the job's user. */
function chownTree(path: string, uid: number, gid: number): void {
  chownSync(path, uid, gid);
  const st = lstatSync(path);
  if (!st.isDirectory()) return;
  for (const e of readdirSync(path, { withFileTypes: true })) {
    const p = join(path, e.name);
    if (e.isSymbolicLink()) continue; // never follow a job's link out of its directory
    chownTree(p, uid, gid);
  }
}

/**
 * Whether `identity` may execute the file at `path` (absolute): search permission on every folder above it and
 * execute permission on the file, by owner, primary group (a job gets no supplementary groups) or others. So a
 * command is looked up in PATH as the job's user would, skipping what only root can reach (e.g. /root/.pyenv).
 */
export function mayExecute(path: string, identity: JobIdentity): boolean {
  const allows = (st: { uid: number; gid: number; mode: number }): boolean =>
    identity.uid === 0 || (st.uid === identity.uid ? (st.mode & 0o100) !== 0 : st.gid === identity.gid ? (st.mode & 0o010) !== 0 : (st.mode & 0o001) !== 0);
  try {
    const parts = path.split('/').filter(Boolean);
    for (let i = 0; i < parts.length; i++) {
      const p = '/' + parts.slice(0, i).join('/');
      if (!allows(statSync(p))) return false;
    }
    const st = statSync(path);
    return st.isFile() && allows(st);
  } catch {
    return false;
  }
}
