/** A plan as text (terminal), JSON (scripts) or Markdown (PR comments). Pure: same plan, same bytes. */
import type { Plan, PlannedPod } from './index.ts';

function scores(p: PlannedPod): string {
  if (!p.scores) return '';
  const { total, ...rest } = p.scores;
  const parts = Object.entries(rest).map(([k, v]) => `${k} ${v}`);
  return ` [score ${total}: ${parts.join(', ')}]`;
}

export function renderPlan(plan: Plan, format: 'text' | 'json' | 'markdown'): string {
  if (format === 'json') return `${JSON.stringify(plan, null, 2)}\n`;
  return format === 'markdown' ? markdown(plan) : text(plan);
}

function summary(plan: Plan): string {
  if (!plan.valid) return `invalid: ${plan.diagnostics.filter((d) => d.includes(': error: ')).length} error(s), nothing planned`;
  return `${plan.create.length} pod(s) to create, ${plan.delete.length} to delete, ${plan.bind.length} to bind, ${plan.unschedulable.length} unschedulable, ${plan.services.filter((s) => s.change !== 'unchanged').length} service change(s), ${plan.endpoints.length} endpoint change(s)`;
}

function text(plan: Plan): string {
  const out: string[] = [];
  out.push(`Plan for ${plan.desiredCommit.slice(0, 12)} against status ${plan.statusCommit ? plan.statusCommit.slice(0, 12) : '(none: nothing observed yet)'} at ${plan.now}`);
  out.push(`Summary: ${summary(plan)}`);
  if (plan.diagnostics.length) {
    out.push('', 'Validation:');
    for (const d of plan.diagnostics) out.push(`  ${d}`);
  }
  if (!plan.valid) return `${out.join('\n')}\n`;
  if (plan.assumedNodes.length) out.push('', `Nodes without observed status, assumed Ready with ${plan.assumedAllocatable}: ${plan.assumedNodes.join(', ')}`);
  if (plan.create.length) {
    out.push('', 'Pods to create:');
    for (const p of plan.create) out.push(`  + ${p.namespace}/${p.name} ${p.node ? `on ${p.node}` : 'unscheduled'}${p.owner ? ` (${p.owner})` : ''}${scores(p)}${p.unschedulable ? `\n      ${p.unschedulable}` : ''}`);
  }
  if (plan.bind.length) {
    out.push('', 'Pending pods to bind:');
    for (const p of plan.bind) out.push(`  > ${p.namespace}/${p.name} on ${p.node}${scores(p)}`);
  }
  if (plan.unschedulable.length) {
    out.push('', 'Unschedulable:');
    for (const u of plan.unschedulable) out.push(`  ! ${u.namespace}/${u.name}: ${u.message}`);
  }
  if (plan.delete.length) {
    out.push('', 'Pods to delete:');
    for (const p of plan.delete) out.push(`  - ${p.namespace}/${p.name}${p.node ? ` on ${p.node}` : ''}: ${p.reason}`);
  }
  if (plan.rollouts.length) {
    out.push('', 'Rollouts (later steps assume new pods become ready):');
    for (const r of plan.rollouts) {
      out.push(`  ${r.workload}${r.complete ? '' : ' (not complete within the simulated steps)'}`);
      r.steps.forEach((s, i) => out.push(`    ${i + 1}. ${s}`));
    }
  }
  if (plan.services.length) {
    out.push('', 'Services:');
    for (const s of plan.services) out.push(`  ${s.change.padEnd(9)} ${s.service} ${s.type} ${s.clusterIP}${s.ports.length ? ` ${s.ports.join(', ')}` : ''}`);
  }
  if (plan.endpoints.length) {
    out.push('', 'Endpoint changes:');
    for (const e of plan.endpoints) out.push(`  ${e.service}:${e.port}${e.added.map((a) => ` +${a}`).join('')}${e.removed.map((a) => ` -${a}`).join('')}`);
  }
  if (plan.nodeConditions.length) {
    out.push('', 'Node conditions:');
    for (const c of plan.nodeConditions) out.push(`  ${c.node}: ${c.condition}=${c.status} (${c.reason})`);
  }
  if (plan.configErrors.length) {
    out.push('', 'Configuration errors (pods not created):');
    for (const c of plan.configErrors) out.push(`  ${c.workload}: ${c.message}`);
  }
  return `${out.join('\n')}\n`;
}

function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function markdown(plan: Plan): string {
  const out: string[] = [];
  out.push(`### Coxswain plan for \`${plan.desiredCommit.slice(0, 12)}\``, '');
  out.push(`Against status \`${plan.statusCommit ? plan.statusCommit.slice(0, 12) : 'none'}\` at ${plan.now}. **${summary(plan)}**`);
  if (plan.diagnostics.length) {
    out.push('', '#### Validation', '', '```');
    out.push(...plan.diagnostics);
    out.push('```');
  }
  if (!plan.valid) return `${out.join('\n')}\n`;
  if (plan.assumedNodes.length) out.push('', `> Nodes without observed status, assumed Ready with ${plan.assumedAllocatable}: ${plan.assumedNodes.join(', ')}`);
  if (plan.create.length || plan.bind.length) {
    out.push('', '#### Pods to create', '', '| Pod | Node | Owner | Score |', '|---|---|---|---|');
    for (const p of [...plan.create, ...plan.bind]) out.push(`| \`${p.namespace}/${p.name}\` | ${p.node ?? `unschedulable: ${cell(p.unschedulable ?? '')}`} | ${p.owner ?? ''} | ${cell(scores(p).trim())} |`);
  }
  if (plan.delete.length) {
    out.push('', '#### Pods to delete', '', '| Pod | Node | Reason |', '|---|---|---|');
    for (const p of plan.delete) out.push(`| \`${p.namespace}/${p.name}\` | ${p.node ?? ''} | ${cell(p.reason)} |`);
  }
  if (plan.unschedulable.length) {
    out.push('', '#### Unschedulable', '');
    for (const u of plan.unschedulable) out.push(`- \`${u.namespace}/${u.name}\`: ${u.message}`);
  }
  if (plan.rollouts.length) {
    out.push('', '#### Rollouts', '');
    for (const r of plan.rollouts) {
      out.push(`- **${r.workload}**${r.complete ? '' : ' (not complete within the simulated steps)'}`);
      r.steps.forEach((s, i) => out.push(`  ${i + 1}. ${s}`));
    }
  }
  if (plan.services.length) {
    out.push('', '#### Services', '', '| Service | Change | Type | ClusterIP | Ports |', '|---|---|---|---|---|');
    for (const s of plan.services) out.push(`| \`${s.service}\` | ${s.change} | ${s.type} | ${s.clusterIP} | ${cell(s.ports.join(', '))} |`);
  }
  if (plan.endpoints.length) {
    out.push('', '#### Endpoint changes', '');
    for (const e of plan.endpoints) out.push(`- \`${e.service}:${e.port}\`${e.added.map((a) => ` +${a}`).join('')}${e.removed.map((a) => ` −${a}`).join('')}`);
  }
  if (plan.configErrors.length) {
    out.push('', '#### Configuration errors', '');
    for (const c of plan.configErrors) out.push(`- ${c.workload}: ${c.message}`);
  }
  return `${out.join('\n')}\n`;
}
