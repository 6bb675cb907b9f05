/**
 * `--limit` patterns, as Ansible reads them, on a real loaded inventory.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadInventory, selectHosts } from '../src/inventory/index.js';
import type { Inventory, LoadedInventory } from '../src/inventory/index.js';
import { globToRegExp, orderPatterns, splitPattern } from '../src/inventory/limit.js';
import { inputErrorOf, workspace, yaml } from './fixtures/inventory/workspace.js';
import type { Workspace } from './fixtures/inventory/workspace.js';

let ws: Workspace;
let inv: LoadedInventory;

beforeAll(async () => {
  ws = workspace();
  const file = ws.write(
    'prod.yml',
    yaml`
      all:
        children:
          backends:
            hosts:
              backend-1:
              backend-2:
          agents:
            children:
              web:
                hosts:
                  agent-[01:12]:
              db:
                hosts:
                  db-1:
          eu:
            hosts:
              backend-1:
              agent-01:
              agent-02:
          empty_group:
          other:
            hosts:
              grafana:
    `,
  );
  inv = await loadInventory(file, { checkFiles: false });
});
afterAll(() => ws.remove());

const names = (pattern: string | undefined, from: Inventory = inv): string[] => selectHosts(from, pattern).map((h) => h.name);

describe('selectHosts', () => {
  it('selects everything without a pattern', () => {
    expect(names(undefined)).toHaveLength(15);
    expect(names('  ')).toHaveLength(15);
    expect(names('all')).toHaveLength(15);
    expect(names('*')).toHaveLength(15);
  });

  it('matches host names and group names', () => {
    expect(names('agent-03')).toEqual(['agent-03']);
    expect(names('backends')).toEqual(['backend-1', 'backend-2']);
    expect(names('db')).toEqual(['db-1']);
    expect(names('eu')).toEqual(['backend-1', 'agent-01', 'agent-02']);
  });

  it('matches globs and ~regexes against groups and hosts', () => {
    expect(names('agent-0*')).toEqual(['agent-01', 'agent-02', 'agent-03', 'agent-04', 'agent-05', 'agent-06', 'agent-07', 'agent-08', 'agent-09']);
    expect(names('agent-1?')).toEqual(['agent-10', 'agent-11', 'agent-12']);
    expect(names('agent-0[!1-8]')).toEqual(['agent-09']);
    expect(names('~agent-1[01]')).toEqual(['agent-10', 'agent-11']);
    // Python's re.match: anchored at the start only.
    expect(names('~back')).toEqual(['backend-1', 'backend-2']);
    // A glob that matches a group name brings the group's hosts.
    expect(names('d?')).toEqual(['db-1']);
  });

  it('unions lists separated by "," or ":", keeping inventory order', () => {
    expect(names('agent-02,backend-2')).toEqual(['backend-2', 'agent-02']);
    expect(names('db:backend-1')).toEqual(['backend-1', 'db-1']);
  });

  it("intersects with & and excludes with !, in Ansible's order whatever the written order", () => {
    expect(names('agents:&eu')).toEqual(['agent-01', 'agent-02']);
    expect(names('!agent-0*,agents')).toEqual(['agent-10', 'agent-11', 'agent-12', 'db-1']);
    expect(names('!agents')).toEqual(['backend-1', 'backend-2']);
    expect(names('&eu')).toEqual(['backend-1', 'agent-01', 'agent-02']);
    expect(names('all,!web,&backends')).toEqual(['backend-1', 'backend-2']);
  });

  it('supports subscripts, inclusive as in Ansible', () => {
    expect(names('web[0]')).toEqual(['agent-01']);
    expect(names('web[-1]')).toEqual(['agent-12']);
    expect(names('web[1:3]')).toEqual(['agent-02', 'agent-03', 'agent-04']);
    expect(names('backends[1:]')).toEqual(['backend-2']);
  });

  it('refuses every part that matches nothing, naming it, with a hint', () => {
    const err = inputErrorOf(() => selectHosts(inv, 'backends,agnets,!agent-99,grafana,empty_group,web[40]'));
    expect(err.message).toBe('--limit backends,agnets,!agent-99,grafana,empty_group,web[40]: 5 parts match no host');
    expect(err.issues).toEqual([
      '--limit: "agnets" matches no host: did you mean agents?',
      '--limit: "grafana" matches no host (host grafana is in neither backends nor agents)',
      '--limit: "empty_group" matches no host (group empty_group has no backends or agents in it)',
      '--limit: "web[40]" matches no host (subscript out of range: web has 12 hosts)',
      '--limit: "!agent-99" matches no host: did you mean agent-09?',
    ]);
  });

  it('refuses a pattern whose parts cancel out, and a bad regex', () => {
    expect(inputErrorOf(() => selectHosts(inv, 'backends:&agents')).message).toBe('--limit backends:&agents selects no host');
    expect(inputErrorOf(() => selectHosts(inv, '~agent-(')).issues).toEqual(['--limit: "~agent-(": invalid regular expression']);
  });

  it("works on an inventory built by hand, without the loader's extras", () => {
    const handMade: Inventory = { file: '/x.yml', dir: '/', hosts: inv.hosts.slice(0, 3) };
    expect(names('backends', handMade)).toEqual(['backend-1', 'backend-2']);
    expect(names('web', handMade)).toEqual(['agent-01']);
  });
});

describe('pattern helpers', () => {
  it('splits like Ansible: commas first, else colons outside brackets; IPv6 stays whole', () => {
    expect(splitPattern('a, b ,,c')).toEqual(['a', 'b', 'c']);
    expect(splitPattern('a:b:!c:&d')).toEqual(['a', 'b', '!c', '&d']);
    expect(splitPattern('web[0:2]:db')).toEqual(['web[0:2]', 'db']);
    expect(splitPattern('2001:db8::1')).toEqual(['2001:db8::1']);
  });

  it('orders plain, then &, then !; all when there is no plain part', () => {
    expect(orderPatterns(['!a', '&b', 'c'])).toEqual(['c', '&b', '!a']);
    expect(orderPatterns(['!a'])).toEqual(['all', '!a']);
  });

  it('translates globs like fnmatch', () => {
    expect(globToRegExp('a.b*').test('a.bcd')).toBe(true);
    expect(globToRegExp('a.b*').test('axbcd')).toBe(false);
    expect(globToRegExp('x[!0-3]').test('x4')).toBe(true);
    expect(globToRegExp('x[!0-3]').test('x2')).toBe(false);
    expect(globToRegExp('x[').test('x[')).toBe(true);
  });
});
