/** /metrics in Prometheus text format: kubelet/cAdvisor-style names where they exist. */
import type { AgentDaemon } from './daemon.ts';

function esc(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function labels(l: Record<string, string>): string {
  const parts = Object.entries(l).map(([k, v]) => `${k}="${esc(v)}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

export function renderMetrics(d: AgentDaemon): string {
  const out: string[] = [];
  const metric = (name: string, type: 'gauge' | 'counter', help: string, rows: [Record<string, string>, number][]) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [l, v] of rows) out.push(`${name}${labels(l)} ${Number.isFinite(v) ? v : 0}`);
  };
  const state = d.stream.state;
  const phases: Record<string, number> = { Pending: 0, Running: 0, Succeeded: 0, Failed: 0, Unknown: 0 };
  for (const p of state.pods) phases[p.status.phase] = (phases[p.status.phase] ?? 0) + 1;
  metric('coxswain_agent_pods', 'gauge', 'Pods on this node by phase.', Object.entries(phases).map(([phase, n]) => [{ phase }, n]));
  metric('coxswain_agent_desired_generation', 'gauge', 'Generation of the accepted desired state.', [[{}, d.store.generation]]);
  metric('coxswain_agent_converged_generation', 'gauge', 'Generation the node last converged to.', [[{}, state.generation]]);
  metric('coxswain_agent_desired_accepted_total', 'counter', 'Desired states accepted.', [[{}, d.counters.desiredAccepted]]);
  metric('coxswain_agent_desired_refused_total', 'counter', 'Desired states refused as stale.', [[{}, d.counters.desiredRefused]]);
  metric('coxswain_agent_converge_duration_seconds', 'gauge', 'Duration of the last converge.', [[{}, d.counters.lastConvergeMs / 1000]]);
  const k = d.kubelet.counters;
  metric('coxswain_agent_pod_syncs_total', 'counter', 'Pod syncs run.', [[{}, k.syncs]]);
  metric('coxswain_agent_sync_errors_total', 'counter', 'Pod syncs that failed.', [[{}, k.syncErrors]]);
  metric('coxswain_agent_container_starts_total', 'counter', 'Containers started.', [[{}, k.containerStarts]]);
  metric('coxswain_agent_probe_checks_total', 'counter', 'Probe checks run.', [[{}, k.probeChecks]]);
  metric('coxswain_agent_probe_failures_total', 'counter', 'Probe checks that failed.', [[{}, k.probeFailures]]);
  metric('kube_pod_container_status_restarts_total', 'counter', 'Container restarts.', state.pods.flatMap((p) => p.status.containerStatuses.map((c) => [{ namespace: p.namespace, pod: p.name, container: c.name }, c.restartCount] as [Record<string, string>, number])));
  metric('kube_pod_container_status_ready', 'gauge', 'Whether the container is ready.', state.pods.flatMap((p) => p.status.containerStatuses.map((c) => [{ namespace: p.namespace, pod: p.name, container: c.name }, c.ready ? 1 : 0] as [Record<string, string>, number])));
  const cu = [...d.containerUsage.values()];
  metric('container_cpu_usage_seconds_total', 'counter', 'Cumulative CPU time of the container.', cu.map((c) => [{ namespace: c.namespace, pod: c.pod, container: c.container }, c.cpuSeconds]));
  metric('container_memory_working_set_bytes', 'gauge', 'Working set of the container.', cu.map((c) => [{ namespace: c.namespace, pod: c.pod, container: c.container }, c.memoryBytes]));
  const u = d.usage;
  if (u) {
    metric('machine_cpu_cores', 'gauge', 'CPU cores of the node.', [[{}, u.cpuCores]]);
    metric('machine_memory_bytes', 'gauge', 'Memory of the node.', [[{}, u.memoryTotalBytes]]);
    metric('node_memory_available_bytes', 'gauge', 'Available memory of the node.', [[{}, u.memoryAvailableBytes]]);
    metric('node_cpu_usage_seconds_total', 'counter', 'Non-idle CPU time of the node.', [[{}, u.cpuUsageSeconds]]);
    metric('node_filesystem_available_bytes', 'gauge', 'Free space of the container filesystem.', [[{}, u.diskAvailableBytes]]);
  }
  metric('kube_node_status_condition', 'gauge', 'Node conditions.', state.conditions.map((c) => [{ condition: c.type, status: c.status.toLowerCase() }, 1]));
  const mem = process.memoryUsage();
  metric('process_resident_memory_bytes', 'gauge', 'Resident memory of the agent.', [[{}, mem.rss]]);
  metric('nodejs_heap_size_total_bytes', 'gauge', 'V8 heap size of the agent.', [[{}, mem.heapTotal]]);
  metric('nodejs_heap_size_used_bytes', 'gauge', 'V8 heap in use by the agent.', [[{}, mem.heapUsed]]);
  metric('nodejs_external_memory_bytes', 'gauge', 'Memory outside the V8 heap, array buffers included.', [[{}, mem.external]]);
  metric('nodejs_array_buffers_bytes', 'gauge', 'Memory of array buffers (Buffers, WebAssembly memories).', [[{}, mem.arrayBuffers]]);
  metric('process_cpu_seconds_total', 'counter', 'CPU time of the agent.', [[{}, (process.cpuUsage().user + process.cpuUsage().system) / 1e6]]);
  return `${out.join('\n')}\n`;
}
