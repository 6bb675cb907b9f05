/**
 * The Ansible-compatible inventory: load and validate a YAML inventory, resolve every host, and
 * select hosts with `--limit` patterns.
 */
export { loadInventory } from './load.js';
export { selectHosts } from './limit.js';
export { expandHostPattern } from './ranges.js';
export { parseSshArgs } from './ssh-args.js';
export { isSecretVar } from './schema.js';
export type { HostSpec, Inventory, LoadedInventory, LoadOptions, ProxyHop, Role, SensuSettings } from './types.js';
export { Secret } from '../secret.js';
