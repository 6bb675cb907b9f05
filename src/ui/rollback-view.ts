/**
 * What `rollout rollback` is about to undo, in words, shown before it asks (as secure shows its
 * plan): per host, the files restored from their backups, the files and directories removed, the
 * etcd members put back, the units restarted. Pure: journal entries in, lines out.
 */
import type { JournalChange } from '../execute/journal.js';

/** What undoing a run does on one host. */
export interface HostUndo {
  host: string;
  /** Files restored from the on-host backup (byte-identical, owner and mode). */
  restore: string[];
  /** Files and directories the run created, to be removed. */
  remove: string[];
  /** Directories whose owner or mode the run changed, to be set back. */
  reset: string[];
  /** etcd members whose peer URLs go back. */
  etcdMembers: string[];
  /** Units restarted afterwards. */
  restart: string[];
}

/** Groups a run's journaled changes by host, in the order the hosts were first changed. */
export function undoByHost(changes: readonly JournalChange[]): HostUndo[] {
  const hosts = new Map<string, HostUndo>();
  for (const c of changes) {
    let h = hosts.get(c.host);
    if (!h) hosts.set(c.host, (h = { host: c.host, restore: [], remove: [], reset: [], etcdMembers: [], restart: [] }));
    const add = (list: string[], item: string): void => {
      if (!list.includes(item)) list.push(item);
    };
    if (c.action === 'replaced') add(h.restore, c.path);
    else if (c.action === 'created') add(h.remove, c.path);
    else if (c.action === 'dir-created') add(h.remove, `${c.path.replace(/\/$/, '')}/`);
    else if (c.action === 'dir-changed') add(h.reset, `${c.path.replace(/\/$/, '')}/`);
    else add(h.etcdMembers, c.etcd?.member ?? c.path);
    if (c.unit) add(h.restart, c.unit);
  }
  return [...hosts.values()];
}

/** Hosts listed one by one up to this many; beyond, the rest are counted. */
const LISTED = 20;

/** The lines shown before the question, e.g. "backend-1: restore /etc/sensu/backend.yml; restart sensu-backend". */
export function renderUndo(runId: string, undo: readonly HostUndo[]): string[] {
  const files = undo.reduce((n, h) => n + h.restore.length + h.remove.length + h.reset.length, 0);
  const lines = [`run ${runId} changed ${files} file(s) on ${undo.length} host(s); rolling it back will:`];
  for (const h of undo.slice(0, LISTED)) {
    const parts = [
      h.restore.length > 0 ? `restore ${h.restore.join(', ')}` : '',
      h.remove.length > 0 ? `remove ${h.remove.join(', ')}` : '',
      h.reset.length > 0 ? `reset owner and mode of ${h.reset.join(', ')}` : '',
      h.etcdMembers.length > 0 ? `put back the peer URLs of etcd member ${h.etcdMembers.join(', ')}` : '',
      h.restart.length > 0 ? `restart ${h.restart.join(', ')}` : '',
    ].filter((p) => p !== '');
    lines.push(`  ${h.host}: ${parts.join('; ')}`);
  }
  if (undo.length > LISTED) {
    const rest = undo.slice(LISTED);
    const restarts = new Set(rest.flatMap((h) => h.restart));
    lines.push(
      `  and ${rest.length} more host(s): ${rest.reduce((n, h) => n + h.restore.length + h.remove.length + h.reset.length, 0)} file(s)${restarts.size > 0 ? `, restart ${[...restarts].join(', ')}` : ''}`,
    );
  }
  lines.push('then verify every host healthy on its old settings');
  return lines;
}
