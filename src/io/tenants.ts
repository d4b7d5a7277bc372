import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Node as YamlNode } from 'yaml';
import { RondoError } from '../model/errors.js';
import { normaliseGpuType, type GpuType } from '../model/cluster.js';
import { INNER_POLICIES, type Guarantee, type InnerPolicy, type TenantNode, type TenantTree } from '../model/tenants.js';
import { bufferToText, readInput } from './input.js';

/**
 * Reads a tenant tree (`--tenants FILE`, docs/tenants.md) from YAML or JSON (JSON is read by the YAML parser, a
 * superset, so both get the same positions in errors). Every error names the file, line, column and the path of
 * the bad member (`tenants[1].guarantee.v100`) and says what to write instead.
 */

const TOP_KEYS = ['tenants', 'referenceGpuType'];
const NODE_KEYS = ['name', 'weight', 'guarantee', 'borrowingLimit', 'lendingLimit', 'policy', 'children'];
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,127}$/;
const MAX_DEPTH = 16;

interface Ctx {
  readonly file: string;
  readonly lc: LineCounter;
  readonly names: Map<string, string>;
}

function fail(ctx: Ctx, node: YamlNode | null | undefined, path: string, problem: string, expected?: string, found?: unknown): never {
  const pos = node?.range ? ctx.lc.linePos(node.range[0]) : undefined;
  throw new RondoError({
    code: 'E_SCHEMA',
    file: ctx.file,
    ...(pos ? { line: pos.line, column: pos.col } : {}),
    problem: `${path}: ${problem}`,
    ...(expected !== undefined ? { expected } : {}),
    ...(found !== undefined ? { found: JSON.stringify(found) } : {}),
  });
}

function entries(ctx: Ctx, node: YamlNode | null | undefined, path: string, allowed: readonly string[] | undefined): Map<string, { key: YamlNode; value: YamlNode | null }> {
  if (!isMap(node)) fail(ctx, node, path, 'not a mapping', 'an object of named members');
  const out = new Map<string, { key: YamlNode; value: YamlNode | null }>();
  for (const pair of node.items) {
    const key = pair.key as YamlNode;
    const name = isScalar(key) ? String(key.value) : undefined;
    if (name === undefined) fail(ctx, key, path, 'a member name is not plain text');
    if (out.has(name)) fail(ctx, key, `${path}.${name}`, 'given twice', 'each member once');
    if (allowed && !allowed.includes(name)) fail(ctx, key, `${path}.${name}`, 'unknown member', `one of ${allowed.join(', ')}`);
    out.set(name, { key, value: pair.value as YamlNode | null });
  }
  return out;
}

function num(ctx: Ctx, node: YamlNode | null, path: string, min: number, opts: { positive?: boolean; max?: number } = {}): number {
  const v = isScalar(node) ? node.value : undefined;
  const max = opts.max ?? 1e9;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max || (opts.positive && v <= 0)) {
    fail(ctx, node, path, 'bad number', `a number ${opts.positive ? 'above' : 'from'} ${min}${opts.positive ? '' : ` to ${max}`}`, isScalar(node) ? node.value : undefined);
  }
  return v;
}

function str(ctx: Ctx, node: YamlNode | null, path: string): string {
  const v = isScalar(node) ? node.value : undefined;
  if (typeof v !== 'string') fail(ctx, node, path, 'not text', 'a string', isScalar(node) ? node.value : undefined);
  return v;
}

function gpuMap(ctx: Ctx, node: YamlNode | null, path: string, extra?: string): Record<GpuType, number> {
  const out: Record<GpuType, number> = {};
  for (const [name, { key, value }] of entries(ctx, node, path, undefined)) {
    if (name === extra) continue;
    let t: GpuType;
    try {
      t = normaliseGpuType(name);
    } catch {
      fail(ctx, key, `${path}.${name}`, 'not a GPU type name', `a GPU type such as v100${extra ? ` or "${extra}"` : ''}`);
    }
    if (t in out) fail(ctx, key, `${path}.${name}`, 'GPU type given twice');
    out[t] = num(ctx, value, `${path}.${name}`, 0, { max: 10_000_000 });
  }
  return out;
}

function guarantee(ctx: Ctx, node: YamlNode | null, path: string): Guarantee {
  const members = entries(ctx, node, path, undefined);
  const norm = members.get('normalized');
  if (norm) {
    if (members.size > 1) fail(ctx, node, path, 'mixes GPUs per type with "normalized"', 'either {v100: 8, k80: 4} or {normalized: 10}');
    return { kind: 'normalized', units: num(ctx, norm.value, `${path}.normalized`, 0, { max: 10_000_000 }) };
  }
  return { kind: 'gpus', gpus: gpuMap(ctx, node, path, 'normalized') };
}

function tenantNode(ctx: Ctx, node: YamlNode | null, path: string, depth: number): TenantNode {
  if (depth > MAX_DEPTH) fail(ctx, node, path, `nested deeper than ${MAX_DEPTH} levels`);
  const m = entries(ctx, node, path, NODE_KEYS);
  const nameEntry = m.get('name');
  if (!nameEntry) fail(ctx, node, path, 'missing "name"', 'name: <tenant or cohort name>');
  const name = str(ctx, nameEntry.value, `${path}.name`);
  if (!NAME_RE.test(name)) fail(ctx, nameEntry.value, `${path}.name`, 'bad name', 'letters, digits and . _ : @ / - (at most 128, starting with a letter or digit)', name);
  const prev = ctx.names.get(name);
  if (prev) fail(ctx, nameEntry.value, `${path}.name`, `name ${name} is already used at ${prev}`, 'names unique across the whole tree');
  ctx.names.set(name, path);
  const weight = m.has('weight') ? num(ctx, m.get('weight')!.value, `${path}.weight`, 0, { positive: true, max: 1e6 }) : 1;
  const g = m.has('guarantee') ? guarantee(ctx, m.get('guarantee')!.value, `${path}.guarantee`) : undefined;
  let borrowingLimit: TenantNode['borrowingLimit'];
  const b = m.get('borrowingLimit');
  if (b) {
    const unit = g?.kind ?? 'gpus';
    if (unit === 'normalized') {
      const bm = entries(ctx, b.value, `${path}.borrowingLimit`, ['normalized']);
      const v = bm.get('normalized');
      if (!v) fail(ctx, b.value, `${path}.borrowingLimit`, 'needs "normalized" (the guarantee is normalised)', '{normalized: <units>}');
      borrowingLimit = num(ctx, v.value, `${path}.borrowingLimit.normalized`, 0, { max: 10_000_000 });
    } else {
      borrowingLimit = gpuMap(ctx, b.value, `${path}.borrowingLimit`);
    }
  }
  let lendingLimit: TenantNode['lendingLimit'];
  const l = m.get('lendingLimit');
  if (l) {
    if (g?.kind !== 'gpus') fail(ctx, l.key, `${path}.lendingLimit`, 'needs a guarantee in GPUs per type', 'a guarantee such as {v100: 8}; a normalised guarantee has no GPUs to hold back');
    lendingLimit = gpuMap(ctx, l.value, `${path}.lendingLimit`);
    for (const [t, v] of Object.entries(lendingLimit)) {
      if (v > (g.gpus[t] ?? 0)) fail(ctx, l.value, `${path}.lendingLimit.${t}`, `lends ${v} ${t} GPUs but is guaranteed ${g.gpus[t] ?? 0}`, 'at most the guarantee of that type');
    }
  }
  const children: TenantNode[] = [];
  const c = m.get('children');
  if (c) {
    if (!isSeq(c.value) || c.value.items.length === 0) fail(ctx, c.value, `${path}.children`, 'not a non-empty list', 'a list of tenants or cohorts');
    c.value.items.forEach((item, i) => children.push(tenantNode(ctx, item as YamlNode, `${path}.children[${i}]`, depth + 1)));
    // Reserved GPUs of nested nodes would overlap; Kueue's own hierarchical lending is per queue too.
    if (l) fail(ctx, l.key, `${path}.lendingLimit`, 'a cohort has no lending limit', 'lendingLimit on its leaf tenants');
  }
  let policy: InnerPolicy | undefined;
  const p = m.get('policy');
  if (p) {
    if (children.length > 0) fail(ctx, p.key, `${path}.policy`, 'a cohort (a node with children) has no inner policy', 'policy on its leaf tenants');
    const v = str(ctx, p.value, `${path}.policy`).toLowerCase();
    if (!(INNER_POLICIES as readonly string[]).includes(v)) fail(ctx, p.value, `${path}.policy`, 'unknown inner policy', `one of ${INNER_POLICIES.join(', ')}`, v);
    policy = v as InnerPolicy;
  } else if (children.length === 0) {
    policy = 'fair';
  }
  if (g?.kind === 'gpus' && children.length > 0) {
    for (const t of Object.keys(g.gpus)) {
      const s = children.reduce((acc, ch) => acc + (ch.guarantee?.kind === 'gpus' ? (ch.guarantee.gpus[t] ?? 0) : 0), 0);
      if (s > g.gpus[t]!) fail(ctx, m.get('guarantee')!.value, `${path}.guarantee.${t}`, `children are guaranteed ${s} ${t} GPUs, more than the cohort's ${g.gpus[t]}`, 'a cohort guarantee at least the sum of its children\'s');
    }
  }
  return {
    name,
    path,
    weight,
    ...(g ? { guarantee: g } : {}),
    ...(borrowingLimit !== undefined ? { borrowingLimit } : {}),
    ...(lendingLimit !== undefined ? { lendingLimit } : {}),
    ...(policy ? { policy } : {}),
    children,
  };
}

/** Parses a tenant tree from text; `file` is used in errors. */
export function parseTenants(text: string, file = '<tenants>'): TenantTree {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: false, prettyErrors: false });
  const ctx: Ctx = { file, lc, names: new Map() };
  const e = doc.errors[0];
  if (e) {
    const pos = lc.linePos(e.pos[0]);
    throw new RondoError({ code: 'E_JSON', file, line: pos.line, column: pos.col, problem: `not valid YAML or JSON: ${e.message.split('\n')[0]}` });
  }
  const top = entries(ctx, doc.contents as YamlNode | null, '(top)', TOP_KEYS);
  const list = top.get('tenants');
  if (!list) fail(ctx, doc.contents as YamlNode, '(top)', 'missing "tenants"', 'tenants: [ {name: ..., guarantee: {...}}, ... ]');
  if (!isSeq(list.value) || list.value.items.length === 0) fail(ctx, list.value, 'tenants', 'not a non-empty list', 'a list of tenants or cohorts');
  const roots = list.value.items.map((item, i) => tenantNode(ctx, item as YamlNode, `tenants[${i}]`, 1));
  const ref = top.get('referenceGpuType');
  let referenceGpuType: GpuType | undefined;
  if (ref) {
    try {
      referenceGpuType = normaliseGpuType(str(ctx, ref.value, 'referenceGpuType'));
    } catch (err) {
      if (err instanceof RondoError && err.code === 'E_SCHEMA') throw err;
      fail(ctx, ref.value, 'referenceGpuType', 'not a GPU type name', 'a GPU type such as v100');
    }
  }
  return { roots, source: file, ...(referenceGpuType ? { referenceGpuType } : {}) };
}

/** Reads a tenant tree file (YAML or JSON). */
export function readTenants(file: string): TenantTree {
  return parseTenants(bufferToText(readInput(file, { maxBytes: 64 * 1024 * 1024 }), file), file);
}
