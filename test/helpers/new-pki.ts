/**
 * A second PKI beside a lab's (`pki-<name>/`: a new CA, named so, and every certificate the lab's
 * inventory gives, issued by it) and a copy of the lab's inventory pointing at it: a CA rotation.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Lab } from '../lab/lab.js';
import { writeLabExtraCerts, writeLabPki } from '../lab/pki.js';

/** Writes the PKI and the inventory; returns the inventory's path and the new CA's PEM. */
export async function newLabPki(lab: Lab, name: string): Promise<{ inventory: string; ca: string }> {
  const dir = join(lab.dir, `pki-${name}`);
  const hosts = lab.state.hosts.map((h) => ({ name: h.name, address: h.address, role: h.role }));
  const pki = await writeLabPki(dir, hosts, `rollout lab CA ${name}`);
  await writeLabExtraCerts(dir, pki.ca, hosts, lab.state.certs ?? {});
  const inventory = join(lab.dir, `inventory-${name}.yml`);
  writeFileSync(inventory, readFileSync(lab.inventoryPath, 'utf8').replace(/\bpki\//g, `pki-${name}/`));
  return { inventory, ca: pki.ca.certPem };
}
