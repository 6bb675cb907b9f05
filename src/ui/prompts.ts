/**
 * Every question rollout asks a person lives here, so prompts stay consistent and tests drive
 * them through a pseudo-terminal in one place; step mode's question, asked through listr2 while
 * a run is on screen, is beside it in step-prompt.ts. Inquirer is loaded when a question is
 * asked: most runs never ask, and it is among the costliest packages to load.
 */

/** Asks for a secret without echoing it. */
export async function askSecret(message: string): Promise<string> {
  const { password } = await import('@inquirer/prompts');
  return password({ message, mask: false });
}

/** Asks a yes/no question; `defaultYes` decides what Enter means. */
export async function askYesNo(message: string, defaultYes = false): Promise<boolean> {
  const { confirm } = await import('@inquirer/prompts');
  return confirm({ message, default: defaultYes });
}

/** True when a person can answer questions (stdin and stdout are terminals). */
export function canPrompt(): boolean {
  return Boolean(process.stdin.isTTY && process.stdout.isTTY);
}
