/**
 * The secret values of a fleet (become passwords, API credentials), so displays can redact them
 * wherever they might surface, even inside a config file's text.
 */
import type { HostSpec } from '../../inventory/types.js';
import { Secret } from '../../secret.js';

/** Every secret value the inventory holds for these hosts. */
export function secretsOf(hosts: readonly HostSpec[]): string[] {
  const out = new Set<string>();
  for (const h of hosts) {
    for (const s of [h.becomePassword, h.sensu.apiKey, h.sensu.apiPassword]) if (s) out.add(s.reveal());
    for (const v of Object.values(h.vars)) if (v instanceof Secret) out.add(v.reveal());
  }
  return [...out].filter((s) => s.length > 0);
}
