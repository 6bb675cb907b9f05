/**
 * `rollout completion bash|zsh`: a completion script made from the command tree itself, so a new
 * option completes without anyone editing a script. Options that take a file or directory complete
 * paths. zsh gets the bash script through bashcompinit, which every zsh ships.
 */
import type { Command, Option } from 'commander';

/** Options whose value is a path. */
function takesPath(option: Option): boolean {
  return /<(file|dir|name\|file)/.test(option.flags);
}

function words(cmd: Command): string[] {
  return [...cmd.options.filter((o) => !o.hidden).flatMap((o) => [o.long, o.short].filter((f): f is string => f !== undefined)), '--help'];
}

/** The bash completion script for `program`. */
export function bashCompletion(program: Command): string {
  const commands = program.commands.map((c) => c.name());
  const pathOptions = new Set(
    program.commands.flatMap((c) => c.options.filter(takesPath).flatMap((o) => [o.long, o.short].filter((f): f is string => f !== undefined))),
  );
  const cases = program.commands.map((c) => `    ${c.name()}) opts="${words(c).join(' ')}" ;;`).join('\n');
  return `# rollout completion for bash: eval "$(rollout completion bash)" (in ~/.bashrc)
_rollout() {
  local cur prev opts
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=( $(compgen -W "${commands.join(' ')} --help --version" -- "$cur") )
    return
  fi
  case "$prev" in
    ${[...pathOptions].join('|')})
      COMPREPLY=( $(compgen -f -- "$cur") )
      return ;;
  esac
  case "\${COMP_WORDS[1]}" in
${cases}
    completion) opts="bash zsh" ;;
    *) opts="" ;;
  esac
  COMPREPLY=( $(compgen -W "$opts" -- "$cur") )
}
complete -o default -F _rollout rollout
`;
}

/** The zsh completion script: the bash one, through zsh's bash compatibility. */
export function zshCompletion(program: Command): string {
  return `#compdef rollout
# rollout completion for zsh: eval "$(rollout completion zsh)" (in ~/.zshrc)
autoload -U +X compinit && compinit
autoload -U +X bashcompinit && bashcompinit
${bashCompletion(program).split('\n').slice(1).join('\n')}`;
}
