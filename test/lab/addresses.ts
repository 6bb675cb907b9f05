/**
 * Address plan of one lab: every host gets its own 127.N.x.y address, so two labs running at the
 * same time (parallel test files) never collide as long as they use different N.
 */

/** One host of the lab fleet. */
export interface LabHost {
  /** Inventory and host name (`backend-1`, `agent-001`). */
  name: string;
  role: 'backend' | 'agent';
  /** The host's own loopback address; every service on the host binds it. */
  address: string;
}

/** Lab shape: how many hosts and which 127.N.0.0/16 range they live in. */
export interface LabShape {
  backends: number;
  agents: number;
  /** Second octet of the lab's range (127.N.0.0/16), 2–254. */
  net: number;
}

/** Width of agent numbers, so names sort naturally (`agent-01` … `agent-20`, `agent-001` … `agent-200`). */
function agentWidth(count: number): number {
  return Math.max(2, String(count).length);
}

/** Lays out the fleet: backends on 127.N.0.x, agents on 127.N.1.x onwards (254 per block). */
export function planHosts(shape: LabShape): LabHost[] {
  if (!Number.isInteger(shape.net) || shape.net < 2 || shape.net > 254) {
    throw new Error(`lab range 127.${shape.net}.0.0/16: the second octet must be 2–254`);
  }
  if (shape.backends < 1 || shape.backends > 9) throw new Error('a lab has 1–9 backends');
  if (shape.agents < 0 || shape.agents > 254 * 50) throw new Error('too many agents');
  const hosts: LabHost[] = [];
  for (let i = 1; i <= shape.backends; i++) {
    hosts.push({ name: `backend-${i}`, role: 'backend', address: `127.${shape.net}.0.${i}` });
  }
  const width = agentWidth(shape.agents);
  for (let i = 0; i < shape.agents; i++) {
    const block = 1 + Math.floor(i / 254);
    const last = 1 + (i % 254);
    hosts.push({ name: `agent-${String(i + 1).padStart(width, '0')}`, role: 'agent', address: `127.${shape.net}.${block}.${last}` });
  }
  return hosts;
}
