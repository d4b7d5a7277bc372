/** deploy/kubernetes: every manifest parses and validates against the Kubernetes schemas (kubernetes-models). */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadAllYaml } from '@kubernetes/client-node';
import { Namespace, ServiceAccount, Service, ConfigMap, PersistentVolumeClaim } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { Job } from 'kubernetes-models/batch/v1';
import { ClusterRole, ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { parseTypeMapFile } from '../../src/kube/config.js';
import { submitBody } from '../../src/kube/objects.js';

const DIR = join(resolve(dirname(fileURLToPath(import.meta.url)), '../..'), 'deploy', 'kubernetes');
const MODELS: Record<string, new (o: never) => { validate(): void }> = {
  Namespace,
  ServiceAccount,
  Service,
  ConfigMap,
  PersistentVolumeClaim,
  Deployment,
  Job,
  ClusterRole,
  ClusterRoleBinding,
};

function docs(): Array<{ file: string; obj: { kind: string; metadata: { name: string }; [k: string]: unknown } }> {
  return readdirSync(DIR)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .flatMap((file) => loadAllYaml(readFileSync(join(DIR, file), 'utf8')).filter(Boolean).map((obj) => ({ file, obj })));
}

describe('deploy/kubernetes', () => {
  it('has every object the quick start applies, each valid against its schema', () => {
    const all = docs();
    expect(all.map((d) => d.obj.kind).sort()).toEqual(['ClusterRole', 'ClusterRoleBinding', 'ConfigMap', 'Deployment', 'Job', 'Namespace', 'PersistentVolumeClaim', 'Service', 'ServiceAccount']);
    for (const { file, obj } of all) {
      const Model = MODELS[obj.kind];
      expect(Model, `${file}: ${obj.kind}`).toBeDefined();
      expect(() => new Model!(obj as never).validate(), `${file}: ${obj.kind} ${obj.metadata.name}`).not.toThrow();
    }
  });

  it('catches a broken manifest (the validation is real)', () => {
    const dep = docs().find((d) => d.obj.kind === 'Deployment')!.obj as unknown as { spec: { replicas: unknown } };
    const bad = { ...dep, spec: { ...dep.spec, replicas: 'one' } };
    expect(() => new Deployment(bad as never).validate()).toThrow();
  });

  it('grants what the driver uses, and no more than it needs on Jobs and Pods', () => {
    const role = docs().find((d) => d.obj.kind === 'ClusterRole')!.obj as unknown as { rules: Array<{ apiGroups: string[]; resources: string[]; verbs: string[] }> };
    const verbs = (group: string, res: string): string[] => role.rules.filter((r) => r.apiGroups.includes(group) && r.resources.includes(res)).flatMap((r) => r.verbs).sort();
    expect(verbs('batch', 'jobs')).toEqual(['get', 'list', 'patch', 'watch']);
    expect(verbs('batch', 'jobs/status')).toEqual(['patch']);
    // The gang kinds of --kube-kinds: read and patched as Jobs are, no /status (no startTime to clear).
    expect(verbs('jobset.x-k8s.io', 'jobsets')).toEqual(['get', 'list', 'patch', 'watch']);
    expect(verbs('kubeflow.org', 'pytorchjobs')).toEqual(['get', 'list', 'patch', 'watch']);
    expect(verbs('jobset.x-k8s.io', 'jobsets/status')).toEqual([]);
    expect(verbs('', 'pods')).toEqual(['get', 'list', 'watch']);
    expect(verbs('', 'nodes')).toEqual(['get', 'list', 'watch']);
    expect(verbs('', 'events')).toEqual(['create']);
    expect(verbs('coordination.k8s.io', 'leases')).toEqual(['create', 'get', 'update']);
  });

  it('ships a type map the server accepts and an example Job Rondo would queue', () => {
    const cm = docs().find((d) => d.obj.kind === 'ConfigMap')!.obj as unknown as { data: Record<string, string> };
    expect(parseTypeMapFile(cm.data['gpu-types']!, 'configmap.yaml')).toMatchObject({ 'Tesla-V100-SXM2-16GB': 'v100', 'Tesla-K80': 'k80' });
    const job = docs().find((d) => d.obj.kind === 'Job')!.obj;
    const req = submitBody(job as never);
    expect(req).toEqual({ body: expect.objectContaining({ tenant: 'vision', scaleFactor: 1, totalSteps: 20000, gpuTypes: ['v100', 'p100'] }) });
    expect((job as unknown as { spec: { suspend: boolean } }).spec.suspend).toBe(true);
    const dockerfile = readFileSync(join(DIR, 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/^FROM node:20/m);
  });
});
