/**
 * What every failure test asserts about the fleet and the output: no secret printed, no stack
 * trace, and the fleet as it was (files, owners and modes; services healthy on their old,
 * plain-text settings).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { Lab } from '../lab/lab.js';
import type { CliResult } from './cli.js';
import { agentHealthz, eventually, fileSnapshot, startCounts } from './fleet.js';

/** Every secret a run could leak: the become password, API credentials, private key material. */
export function labSecrets(lab: Lab): string[] {
  const keyBodies = (file: string): string[] =>
    readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l.length >= 40 && !l.startsWith('-----'));
  const pkiKeys = readdirSync(join(lab.dir, 'pki'))
    .filter((f) => f.endsWith('.key'))
    .flatMap((f) => keyBodies(join(lab.dir, 'pki', f)));
  return [
    lab.state.becomePassword,
    lab.state.admin?.password ?? '',
    lab.state.admin?.apiKey ?? '',
    'PRIVATE KEY',
    ...keyBodies(lab.keyPath),
    ...pkiKeys,
  ].filter((s) => s !== '');
}

/** No secret (nor any of `extra`) anywhere in a run's output, and no stack trace. */
export function expectCleanOutput(lab: Lab, r: CliResult, extra: readonly string[] = []): void {
  const all = r.stdout + r.stderr;
  for (const secret of [...labSecrets(lab), ...extra]) expect(all.includes(secret), `output leaks a secret (${secret.slice(0, 4)}…)`).toBe(false);
  expect(all).not.toMatch(/\n\s+at .*(\.ts|\.mjs|\.js):\d+/);
  expect(all).not.toContain('internal error');
}

/** What a failure test compares the fleet with afterwards. */
export interface Baseline {
  files: Record<string, string>;
  starts: Record<string, number>;
}

/** Files (content, owner, mode) and unit start counts of every host, before a run. */
export async function baseline(lab: Lab): Promise<Baseline> {
  return { files: await fileSnapshot(lab), starts: startCounts(lab) };
}

/** Every backend healthy over plain http with all members, every agent on ws:// with /healthz 200. */
export async function expectHealthyOnOldSettings(lab: Lab): Promise<void> {
  const backends = lab.state.hosts.filter((h) => h.role === 'backend');
  for (const b of backends) {
    await eventually(`${b.name} healthy over http`, 60_000, async () => {
      const res = await fetch(`http://${b.address}:8080/health`, { signal: AbortSignal.timeout(3000) });
      const health = (await res.json()) as { ClusterHealth?: { Healthy: boolean }[] };
      return (health.ClusterHealth ?? []).length === backends.length && (health.ClusterHealth ?? []).every((m) => m.Healthy);
    });
  }
  for (const a of lab.state.hosts.filter((h) => h.role === 'agent')) {
    expect(lab.readFile(a.name, '/etc/sensu/agent.yml')).not.toContain('wss://');
    await eventually(`${a.name} /healthz 200`, 60_000, async () => (await agentHealthz(lab, a.name)) === 200);
  }
}

/** The fleet as it was: every file byte-identical with the same owner and mode, services healthy. */
export async function expectRestored(lab: Lab, before: Baseline): Promise<void> {
  expect(await fileSnapshot(lab)).toEqual(before.files);
  await expectHealthyOnOldSettings(lab);
}

/** Nothing touched at all: files as they were, and no unit restarted. */
export async function expectUntouched(lab: Lab, before: Baseline): Promise<void> {
  expect(await fileSnapshot(lab)).toEqual(before.files);
  expect(startCounts(lab)).toEqual(before.starts);
}

/** The error `p` rejects with; a test that expected one fails when it resolves instead. */
export async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a failure');
}
