/**
 * The example inventories under inventory/ are documentation: they must load. Each is copied to a
 * temporary directory next to empty placeholder files for the certificates and keys it names.
 */
import { copyFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadInventory, selectHosts } from '../src/inventory/index.js';
import type { HostSpec, LoadedInventory } from '../src/inventory/index.js';
import { workspace } from './fixtures/inventory/workspace.js';
import type { Workspace } from './fixtures/inventory/workspace.js';

let ws: Workspace;
beforeEach(() => {
  ws = workspace();
});
afterEach(() => ws.remove());

function localFiles(h: HostSpec): string[] {
  const s = h.sensu;
  return [h.privateKeyFile, s.caFile, s.certFile, s.keyFile, s.dashboardCertFile, s.dashboardKeyFile, s.clientCertFile, s.clientKeyFile].filter(
    (f): f is string => f !== undefined,
  );
}

/** Copies an example in, creates the files it names, and loads it with every check on. */
async function loadExample(name: string): Promise<LoadedInventory> {
  const file = join(ws.dir, name);
  copyFileSync(join(import.meta.dirname, '../inventory', name), file);
  const options = { homeDir: join(ws.dir, 'home'), displayName: name };
  const draft = await loadInventory(file, { ...options, checkFiles: false });
  const files = [...new Set(draft.hosts.flatMap(localFiles))];
  // Examples only name files under their own directory (or ~), so they stay portable.
  for (const f of files) expect(relative(ws.dir, f).startsWith('..')).toBe(false);
  ws.touch(...files.map((f) => relative(ws.dir, f)));
  return loadInventory(file, options);
}

describe('example inventories', () => {
  it('inventory/example.yml loads, with the hosts and settings its comments describe', async () => {
    const inv = await loadExample('example.yml');
    expect(inv.warnings).toEqual([]);
    expect(inv.hosts.map((h) => `${h.name}:${h.role}`)).toEqual([
      'backend-1:backend',
      'backend-2:backend',
      'backend-3:backend',
      'agent-01:agent',
      'agent-02:agent',
      'agent-03:agent',
      'agent-04:agent',
      'agent-db:agent',
    ]);
    const byName = new Map(inv.hosts.map((h) => [h.name, h]));
    expect(byName.get('backend-3')).toMatchObject({ address: '10.0.1.13', port: 2222, user: 'ops' });
    expect(byName.get('backend-2')?.sensu.extraSans).toEqual(['sensu.example.com']);
    expect(byName.get('backend-1')?.sensu.apiPassword?.reveal()).toBe('change-me');
    expect(byName.get('agent-02')?.proxyJump).toEqual([{ user: 'ops', host: 'bastion.example.com', port: 22 }]);
    expect(byName.get('agent-db')?.sensu).toMatchObject({
      entityName: 'primary-db',
      clientCertFile: join(ws.dir, 'pki/agent-db-client.pem'),
      caFile: join(ws.dir, 'pki/ca.pem'),
    });
    expect(byName.get('agent-01')?.groups).toEqual(['agents', 'eu_west', 'web']);
    // The --limit example from its header comment.
    expect(selectHosts(inv, 'backends,agent-0*,!agent-03').map((h) => h.name)).toEqual([
      'backend-1',
      'backend-2',
      'backend-3',
      'agent-01',
      'agent-02',
      'agent-04',
    ]);
  });

  it('inventory/lab-shape.yml loads as the lab writes it', async () => {
    const inv = await loadExample('lab-shape.yml');
    expect(inv.warnings).toEqual([]);
    expect(inv.hosts.map((h) => [h.name, h.role, h.address, h.port, h.user])).toEqual([
      ['backend-1', 'backend', '127.20.0.1', 22, 'labops'],
      ['agent-01', 'agent', '127.20.1.1', 22, 'labops'],
      ['agent-02', 'agent', '127.20.1.2', 22, 'labops'],
    ]);
    for (const h of inv.hosts) {
      expect(h.privateKeyFile).toBe(join(ws.dir, 'ssh/id_ed25519'));
      // {{ inventory_dir }} rendered, as Ansible does before handing the option to ssh.
      expect(h.knownHosts?.user).toEqual([join(ws.dir, 'known_hosts')]);
      expect(h.sensu).toMatchObject({
        caFile: join(ws.dir, 'pki/ca.pem'),
        certFile: join(ws.dir, `pki/${h.name}.pem`),
        keyFile: join(ws.dir, `pki/${h.name}.key`),
        apiUser: 'admin',
      });
    }
    expect(inv.hosts.map((h) => h.becomePassword !== undefined)).toEqual([false, false, true]);
  });
});
