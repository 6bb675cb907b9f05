/**
 * Reads `ansible_ssh_common_args` the way ssh would, for what rollout can honour: jump hosts
 * (`-J a,b`, `-o ProxyJump=a,b`) and known_hosts files (`-o UserKnownHostsFile=…`). Everything
 * else is reported back so the user can be told it is ignored: rollout speaks SSH itself and does
 * not run the ssh binary.
 */
import type { ProxyHop } from './types.js';

/** What the SSH arguments mean to rollout. */
export interface SshArgs {
  /** Jump hosts in order; an empty list for an explicit `ProxyJump none`; absent when not set. */
  proxyJump?: ProxyHop[];
  /** `-o UserKnownHostsFile=…`: the files as written (ssh splits the value on whitespace); absent when not set. */
  userKnownHostsFiles?: string[];
  /** Options that rollout ignores, as written (`-o StrictHostKeyChecking=no`). */
  ignored: string[];
  /** Notes on ignored options that matter (host key checking, ProxyCommand). */
  notes: string[];
  /** Problems: unbalanced quotes, a malformed jump spec. */
  errors: string[];
}

// ssh's getopt string: these letters take an argument (`-p 22`, `-p22`).
const WITH_ARGUMENT = new Set('BbcDEeFIiJLlmOopQRSWw'.split(''));

/** Parses SSH arguments as written in the inventory. */
export function parseSshArgs(raw: string): SshArgs {
  const result: SshArgs = { ignored: [], notes: [], errors: [] };
  let words: string[];
  try {
    words = shellWords(raw);
  } catch (e) {
    result.errors.push(e instanceof Error ? e.message : String(e));
    return result;
  }
  let jumpSpecs = 0;
  const setJump = (spec: string, written: string): void => {
    jumpSpecs++;
    if (jumpSpecs > 1) {
      result.errors.push('more than one jump host option (-J / ProxyJump): give one, with hops separated by ","');
      return;
    }
    const parsed = parseJumpSpec(spec);
    if (typeof parsed === 'string') result.errors.push(`${written}: ${parsed}`);
    else result.proxyJump = parsed;
  };

  for (let i = 0; i < words.length; i++) {
    const word = words[i] ?? '';
    if (!word.startsWith('-') || word.length < 2) {
      result.ignored.push(word);
      continue;
    }
    // Flags may be bundled (`-tt`, `-4vJ jump`): walk the letters until one takes an argument.
    for (let j = 1; j < word.length; j++) {
      const flag = word[j] ?? '';
      if (!WITH_ARGUMENT.has(flag)) {
        result.ignored.push(`-${flag}`);
        continue;
      }
      let arg = word.slice(j + 1);
      if (arg === '') {
        const next = words[i + 1];
        if (next === undefined) {
          result.errors.push(`-${flag} needs an argument`);
          break;
        }
        arg = next;
        i++;
      }
      if (flag === 'J') setJump(arg, `-J ${arg}`);
      else if (flag === 'o') handleOption(arg, result, setJump);
      else result.ignored.push(`-${flag} ${arg}`);
      break;
    }
  }
  return result;
}

function handleOption(option: string, result: SshArgs, setJump: (spec: string, written: string) => void): void {
  // ssh accepts `Key=Value`, `Key Value` and `Key = Value`.
  const m = /^\s*([A-Za-z]+)\s*(?:=\s*|\s+)(.*?)\s*$/.exec(option);
  const key = m?.[1]?.toLowerCase();
  const value = m?.[2] ?? '';
  if (key === 'proxyjump') {
    setJump(value, `-o ProxyJump=${value}`);
    return;
  }
  if (key === 'userknownhostsfile') {
    const files = value.split(/\s+/).filter((f) => f !== '');
    if (files.length === 0) result.errors.push(`-o ${option}: no file given`);
    else result.userKnownHostsFiles = files;
    return;
  }
  result.ignored.push(`-o ${option}`);
  if (key === 'proxycommand') {
    result.notes.push('ProxyCommand cannot be honoured: use -J / ProxyJump for jump hosts');
  } else if (key === 'stricthostkeychecking') {
    result.notes.push('host keys are always checked against known_hosts');
  }
}

/** Parses a ProxyJump value: `[user@]host[:port]` hops separated by commas, or `none`. */
export function parseJumpSpec(spec: string): ProxyHop[] | string {
  const trimmed = spec.trim();
  if (trimmed === '') return 'empty jump host';
  if (trimmed.toLowerCase() === 'none') return [];
  const hops: ProxyHop[] = [];
  for (const part of trimmed.split(',')) {
    const hop = parseHop(part.trim());
    if (typeof hop === 'string') return hop;
    hops.push(hop);
  }
  return hops;
}

function parseHop(text: string): ProxyHop | string {
  let rest = text.replace(/^ssh:\/\//, '');
  if (rest === '') return 'empty jump host';
  let user: string | undefined;
  const at = rest.lastIndexOf('@');
  if (at !== -1) {
    user = rest.slice(0, at);
    rest = rest.slice(at + 1);
    if (user === '') return `empty user in jump host "${text}"`;
  }
  let host = rest;
  let portText: string | undefined;
  const v6 = /^\[([^\]]+)\](?::(.*))?$/.exec(rest);
  if (v6) {
    host = v6[1] ?? '';
    portText = v6[2];
  } else if ((rest.match(/:/g) ?? []).length === 1) {
    const i = rest.indexOf(':');
    host = rest.slice(0, i);
    portText = rest.slice(i + 1);
  }
  if (host === '' || /\s/.test(host)) return `bad jump host "${text}"`;
  const hop: ProxyHop = { host };
  if (user !== undefined) hop.user = user;
  if (portText !== undefined) {
    const port = /^\d+$/.test(portText) ? Number(portText) : NaN;
    if (!Number.isInteger(port) || port < 1 || port > 65535) return `bad port in jump host "${text}" (expected integer 1–65535)`;
    hop.port = port;
  }
  return hop;
}

/** Splits a command line into words as a POSIX shell would (quotes and backslashes, no expansion). */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  let current = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i] ?? '';
    if (quote === "'") {
      if (c === "'") quote = undefined;
      else current += c;
    } else if (quote === '"') {
      if (c === '"') quote = undefined;
      else if (c === '\\' && i + 1 < line.length && '"\\$`'.includes(line[i + 1] ?? '')) current += line[++i] ?? '';
      else current += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (c === '\\') {
      current += line[++i] ?? '';
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(current);
      current = '';
      inWord = false;
    } else {
      current += c;
      inWord = true;
    }
  }
  if (quote) throw new Error(`unbalanced ${quote} quote in SSH arguments`);
  if (inWord) words.push(current);
  return words;
}
