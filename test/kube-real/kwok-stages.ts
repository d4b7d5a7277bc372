/**
 * kwok's configuration for the real-control-plane tests: which nodes it manages and the life cycles it plays. kwok
 * ships no stages inside its binary that fit (its "fast" pods never end), so these are written here, small:
 *
 * - Nodes: Ready as soon as they appear (capacity and allocatable as created, so `nvidia.com/gpu` counts), a heartbeat,
 *   and NotReady while they carry the label `rondo.test/not-ready=true` (a kubelet reporting NotReady; kwok keeps the
 *   node's Lease, so the node lifecycle controller taints it as it would a real one).
 * - Pods: Running shortly after binding; Succeeded after the duration in the annotation `rondo.test/run-for` (a Go
 *   duration, e.g. "4s"; without it 3 s); on deletion, terminated when the grace period ends (the deletion timestamp,
 *   as a kubelet that waits the full grace period after SIGTERM), then removed once terminal, so the Job controller's
 *   tracking finalizer is handled as with a kubelet.
 */

export const MANAGED_LABEL = 'rondo.test/kwok';
export const NOT_READY_LABEL = 'rondo.test/not-ready';
export const RUN_FOR_ANNOTATION = 'rondo.test/run-for';

const nodeConditions = (ready: boolean): string => `
      conditions:
      - type: Ready
        status: "${ready ? 'True' : 'False'}"
        reason: ${ready ? 'KubeletReady' : 'KubeletNotReady'}
        message: ${ready ? 'kwok node is ready' : 'marked not ready by the test'}
        lastHeartbeatTime: {{ Now | Quote }}
        lastTransitionTime: {{ Now | Quote }}`;

function stage(name: string, kind: 'Node' | 'Pod', match: string, next: string, delay = ''): string {
  return `---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: ${name}
spec:
  resourceRef:
    apiGroup: v1
    kind: ${kind}
  selector:
    matchExpressions:${match}${delay}
  next:${next}
`;
}

const notDeleted = `
    - key: '.metadata.deletionTimestamp'
      operator: DoesNotExist`;
const phase = (op: 'In' | 'NotIn', ...v: string[]): string => `
    - key: '.status.phase'
      operator: ${op}
      values: [${v.map((x) => `'${x}'`).join(', ')}]`;
const nodeReadyIs = (op: 'In' | 'NotIn'): string => `
    - key: '.status.conditions.[] | select( .type == "Ready" ) | .status'
      operator: ${op}
      values: ['True']`;
const notReadyLabel = (op: 'In' | 'DoesNotExist'): string =>
  op === 'In' ? `
    - key: '.metadata.labels["${NOT_READY_LABEL}"]'
      operator: In
      values: ['true']` : `
    - key: '.metadata.labels["${NOT_READY_LABEL}"]'
      operator: DoesNotExist`;

const containers = (state: string): string => `
      containerStatuses:
      {{ range .spec.containers }}
      - name: {{ .name | Quote }}
        image: {{ .image | Quote }}
        imageID: ""
        ready: ${state === 'running' ? 'true' : 'false'}
        restartCount: 0
        started: ${state === 'running' ? 'true' : 'false'}
        state:${state}
      {{ end }}`;

/** The kwok configuration file (one KwokConfiguration and the stages), as YAML. */
export function kwokConfig(): string {
  const config = `apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokConfiguration
options:
  manageAllNodes: false
  manageNodesWithLabelSelector: ${MANAGED_LABEL}=true
  nodeLeaseDurationSeconds: 40
  nodeLeaseParallelism: 4
  nodePlayStageParallelism: 4
  podPlayStageParallelism: 8
  cidr: 10.244.0.1/16
  nodeIP: 127.0.0.1
`;
  const stages = [
    stage('rondo-node-up', 'Node', notReadyLabel('DoesNotExist') + nodeReadyIs('NotIn'), `
    statusTemplate: |${nodeConditions(true)}
      phase: Running
      allocatable: {{ with .status.allocatable }}{{ YAML . 1 }}{{ else }}{cpu: 1k, memory: 1Ti, pods: "110"}{{ end }}
      capacity: {{ with .status.capacity }}{{ YAML . 1 }}{{ else }}{cpu: 1k, memory: 1Ti, pods: "110"}{{ end }}`),
    stage('rondo-node-heartbeat', 'Node', notReadyLabel('DoesNotExist') + nodeReadyIs('In'), `
    statusTemplate: |${nodeConditions(true)}`, `
  delay:
    durationMilliseconds: 20000
    jitterDurationMilliseconds: 25000`),
    stage('rondo-node-down', 'Node', notReadyLabel('In') + nodeReadyIs('In'), `
    statusTemplate: |${nodeConditions(false)}`),
    stage('rondo-pod-run', 'Pod', notDeleted + phase('In', 'Pending') + `
    - key: '.spec.nodeName'
      operator: Exists`, `
    statusTemplate: |
      phase: Running
      startTime: {{ Now | Quote }}
      podIP: {{ PodIP | Quote }}
      conditions:
      - {type: Initialized, status: "True", lastTransitionTime: {{ Now | Quote }}}
      - {type: Ready, status: "True", lastTransitionTime: {{ Now | Quote }}}
      - {type: ContainersReady, status: "True", lastTransitionTime: {{ Now | Quote }}}${containers(`
          running:
            startedAt: {{ Now | Quote }}`)}`, `
  delay:
    durationMilliseconds: 200`),
    stage('rondo-pod-succeed', 'Pod', notDeleted + phase('In', 'Running'), `
    statusTemplate: |
      phase: Succeeded
      conditions:
      - {type: Ready, status: "False", reason: PodCompleted, lastTransitionTime: {{ Now | Quote }}}
      - {type: ContainersReady, status: "False", reason: PodCompleted, lastTransitionTime: {{ Now | Quote }}}${containers(`
          terminated:
            exitCode: 0
            reason: Completed
            startedAt: {{ Now | Quote }}
            finishedAt: {{ Now | Quote }}`)}`, `
  delay:
    durationMilliseconds: 3000
    durationFrom:
      expressionFrom: '.metadata.annotations["${RUN_FOR_ANNOTATION}"]'`),
    // A deleted pod that has not ended: its process gets the whole grace period, then is killed (exit 137).
    stage('rondo-pod-terminate', 'Pod', `
    - key: '.metadata.deletionTimestamp'
      operator: Exists` + phase('NotIn', 'Succeeded', 'Failed'), `
    statusTemplate: |
      phase: Failed
      conditions:
      - {type: Ready, status: "False", reason: PodFailed, lastTransitionTime: {{ Now | Quote }}}${containers(`
          terminated:
            exitCode: 137
            reason: Error
            startedAt: {{ Now | Quote }}
            finishedAt: {{ Now | Quote }}`)}`, `
  delay:
    durationMilliseconds: 0
    durationFrom:
      expressionFrom: '.metadata.deletionTimestamp'`),
    stage('rondo-pod-remove', 'Pod', `
    - key: '.metadata.deletionTimestamp'
      operator: Exists` + phase('In', 'Succeeded', 'Failed'), `
    delete: true`),
  ];
  return config + stages.join('');
}
