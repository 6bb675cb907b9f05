/**
 * The Plan as an operator reads it: per phase, what changes on how many hosts; with --diff, per
 * host, a unified diff of each config and one summary line per certificate or key. Private keys
 * show as a fingerprint, mode and owner only. Hosts whose changes differ only by their own name
 * and address (200 agents getting the same edit) are shown once, with the others listed.
 * Returns text; the CLI prints it.
 */
import type { DirStep, FileStep, GateStep, Plan, Step } from '../plan/types.js';
import { renderDiff } from './diff.js';
import { wrap } from './wrap.js';

/** How to render. */
export interface ViewOptions {
  diff: boolean;
  color: boolean;
  /** Values that must never appear (become passwords, API keys), redacted from diffs. */
  secrets: readonly string[];
  /** Each host's address (inventory name → address), so hosts alike but for it share a section. */
  addresses?: ReadonlyMap<string, string>;
}

const paint = (on: boolean, code: string, text: string): string => (on ? `\x1b[${code}m${text}\x1b[0m` : text);
const mode = (m: number | undefined): string => (m === undefined ? '' : `0${(m & 0o777).toString(8)}`);

function fileLine(step: FileStep, color: boolean): string {
  const sign = step.before.exists ? '~' : '+';
  const sha = `sha256 ${step.after.sha256.slice(0, 8)}…`;
  const own = `${mode(step.after.mode)} ${step.after.owner}:${step.after.group}`;
  let what: string;
  if (step.secret) what = 'private key (content never shown)';
  else if (step.cert)
    what = `${step.cert.subject.split(', ').find((p) => p.startsWith('CN=')) ?? step.cert.subject}  SAN=${step.cert.sans.join(',') || 'none'}  expires ${step.cert.notAfter}`;
  else what = '';
  const kept = /still trusting .*/.exec(step.reason ?? '')?.[0].replace(/\)$/, '');
  const why = step.before.exists && step.before.sha256 === step.after.sha256 ? '  (ownership or mode only)' : kept ? `  (CA bundle: the new CA, ${kept})` : '';
  return paint(color, sign === '+' ? '32' : '33', `${sign} ${step.path}`) + `  ${sha}  ${what ? `${what}  ` : ''}${own}${why}`;
}

function dirLine(step: DirStep, color: boolean): string {
  return (
    paint(color, step.before.exists ? '33' : '32', `${step.before.exists ? '~' : '+'} ${step.path}/`) +
    `  ${mode(step.after.mode)} ${step.after.owner}:${step.after.group}`
  );
}

function stepLines(step: Step, options: ViewOptions): string[] {
  if (step.status === 'noop') return [];
  switch (step.kind) {
    case 'dir':
      return [dirLine(step, options.color)];
    case 'file':
      if (step.module === 'sensu_config' && step.after.text !== undefined) {
        return [
          renderDiff({
            before: step.before.text ?? '',
            after: step.after.text,
            label: `${step.host}:${step.path}`,
            color: options.color,
            secrets: options.secrets,
          }).trimEnd(),
          ...(step.notes ?? []).map((n) => paint(options.color, '2', `note: ${n}`)),
        ];
      }
      return [fileLine(step, options.color)];
    case 'restart':
      return [paint(options.color, '36', `↻ restart ${step.unit}`)];
    case 'gate':
      return [
        paint(
          options.color,
          '36',
          `✓ gate: ${step.task} (${step.probe.scheme}://${step.probe.address}:${step.probe.port}${step.dashboard ? `, web UI :${step.dashboard.port} certificate` : ''}${step.agents ? `, a keepalive from each of ${step.agents.length} agent(s)` : ''}, up to ${step.timeoutMs / 1000} s)`,
        ),
      ];
    case 'etcd_member':
      return [
        paint(options.color, '33', `~ etcd member ${step.member} (${BigInt(step.memberId).toString(16)}) peer URLs`),
        paint(options.color, '31', `  - ${step.before.join(',')}`),
        paint(options.color, '32', `  + ${step.after.join(',')}`),
      ];
  }
}

/** Renders the plan for the terminal. */
export function renderPlan(plan: Plan, options: ViewOptions): string {
  const lines: string[] = [];
  // Hosts whose facts were gathered have steps (no-ops at least); the others were never reached,
  // and a phase says nothing about them: their problems are listed after the plan.
  const reached = new Set(plan.phases.flatMap((p) => p.batches.flatMap((b) => b.steps.map((s) => s.host))));
  const failed = new Set(plan.problems.map((p) => p.host));
  for (const phase of plan.phases) {
    const steps = phase.batches.flatMap((b) => b.steps);
    const changing = steps.filter((s) => s.status === 'change' && s.kind !== 'gate');
    const hosts = new Set(changing.map((s) => s.host));
    const allHosts = new Set(phase.batches.flatMap((b) => b.hosts).filter((h) => reached.has(h)));
    if (allHosts.size === 0) continue;
    const wave = phase.wave ? ` [wave ${phase.wave}]` : '';
    const head = `${phase.name}${wave}: ${phase.description}`;
    lines.push(paint(options.color, '1', head));
    if (steps.length === 0) {
      // Checks that ran before planning (preflight): passed only where no problem was found.
      const passed = [...allHosts].filter((h) => !failed.has(h));
      const notPassed = [...allHosts].filter((h) => failed.has(h));
      if (passed.length > 0) lines.push(`  passed on ${passed.length} host(s)`);
      if (notPassed.length > 0) lines.push(`  failed on ${notPassed.length} host(s): ${notPassed.join(', ')}`);
      continue;
    }
    if (changing.length === 0) {
      lines.push(`  nothing to change on ${allHosts.size} host(s)`);
      continue;
    }
    const counts = new Map<string, number>();
    for (const s of changing) counts.set(s.task, (counts.get(s.task) ?? 0) + 1);
    for (const [task, n] of counts) lines.push(`  ${task}: ${n} host(s)`);
    const batches = phase.batches.length;
    const canary = phase.batches[0]?.canary
      ? `; the first, of ${phase.batches[0].hosts.length} host(s), is the canary: a failure there rolls back the whole run`
      : '';
    if (batches > 1 || canary)
      lines.push(paint(options.color, '2', `  in ${batches} batch(es) of up to ${Math.max(...phase.batches.map((b) => b.hosts.length))} host(s)${canary}`));
    if (!options.diff) continue;
    lines.push(...hostSections(steps, hosts, options).map((l) => `  ${l}`));
  }
  if (plan.leftBehind.length > 0) {
    lines.push(paint(options.color, '33', `left behind: ${plan.leftBehind.length} agent(s), not touched by this run (--max-unreachable)`));
    for (const l of plan.leftBehind) lines.push(`  ${l.host}: ${l.reason}`);
    lines.push(
      paint(
        options.color,
        '2',
        '  once the backends serve TLS these stay cut off (Sensu has no mixed ws/wss mode) until a later run switches them: the run writes their names to a retry file for `--limit @FILE`',
      ),
    );
  }
  for (const note of plan.notes) lines.push(paint(options.color, '2', `note: ${note}`));
  return lines.join('\n');
}

/**
 * A host's text with its own name and addresses blanked, each by a placeholder no text holds:
 * two hosts with the same shape have the same change, each with its own identifiers, exactly.
 */
function shapeOf(text: string, identifiers: readonly string[]): string {
  let shape = text;
  identifiers.forEach((id, i) => {
    if (id !== '') shape = shape.replaceAll(id, `\u0000${i}\u0000`);
  });
  return shape;
}

/**
 * One section per host (a `── host` line, then its steps), except that hosts whose steps render
 * the same but for their own name and addresses share the first one's section: on 200 agents a
 * dry run shows one diff and 199 names, not 200 diffs.
 */
function hostSections(steps: readonly Step[], hosts: Iterable<string>, options: ViewOptions): string[] {
  const groups = new Map<string, { lines: string[]; hosts: string[] }>();
  for (const host of hosts) {
    const own = steps.filter((x) => x.host === host);
    const lines = own.flatMap((s) => stepLines(s, options)).flatMap((l) => l.split('\n'));
    const probe = own.find((s): s is GateStep => s.kind === 'gate')?.probe.address ?? '';
    const shape = shapeOf(lines.join('\n'), [host, options.addresses?.get(host) ?? '', probe]);
    const group = groups.get(shape);
    if (group) group.hosts.push(host);
    else groups.set(shape, { lines, hosts: [host] });
  }
  const out: string[] = [];
  for (const {
    lines,
    hosts: [first, ...others],
  } of groups.values()) {
    if (others.length === 0) out.push(paint(options.color, '1', `── ${first ?? ''}`));
    else {
      out.push(paint(options.color, '1', `── ${first ?? ''} and ${others.length} more, the same change with their own name and address:`));
      // Wrapped at 72: with the indents they get, the lines stay within 80 columns.
      out.push(
        ...wrap(others.join(', '), 72)
          .split('\n')
          .map((l) => paint(options.color, '2', `   ${l}`)),
      );
    }
    out.push(...lines.map((l) => `  ${l}`));
  }
  return out;
}

/**
 * The exact change of some steps (step mode's "diff" answer), host by host, the way `--check
 * --diff` shows them: config diffs, certificate and key summary lines, restarts and gates.
 */
export function renderSteps(steps: readonly Step[], options: Omit<ViewOptions, 'diff'>): string {
  return hostSections(steps, new Set(steps.map((s) => s.host)), { ...options, diff: true }).join('\n');
}

/** The closing line of a dry run or plan display. */
export function planSummary(plan: Plan, hostCount: number): string {
  const left = plan.leftBehind.length > 0 ? `; ${plan.leftBehind.length} agent(s) left behind` : '';
  if (plan.changes === 0) return left ? `${hostCount} host(s), no changes${left}` : `${hostCount} host(s), no changes: the fleet is already secured`;
  return `${hostCount} host(s), ${plan.changedHosts.length} to change, ${plan.changes} change(s) pending${left}`;
}
