/**
 * `flctl completion bash|zsh`: a completion script generated from the command tree (verbs,
 * subcommands, flags); resource types complete from the resource table and names from
 * `flctl get TYPE -o name`.
 */
import type { Command } from 'commander';
import { RESOURCES } from '@flotilla/api';
import type { CliContext } from '../cli-context.js';
import { CliError } from '../cli-error.js';

/** Runs `completion`. */
export function runCompletion(ctx: CliContext, shell: string, program: Command): number {
  if (shell !== 'bash' && shell !== 'zsh') throw new CliError(`Unsupported shell type "${shell}".`);
  const verbs = program.commands.map((c) => c.name());
  const subs = program.commands.filter((c) => c.commands.length > 0).map((c) => `    ${c.name()}) subs="${c.commands.map((s) => s.name()).join(' ')}" ;;`);
  const flags = program.commands.map((c) => `    ${c.name()}) flags="${c.options.map((o) => o.long ?? '').filter((x) => x).join(' ')}" ;;`);
  const types = [...new Set(RESOURCES.flatMap((r) => [r.plural, ...r.shortNames]))].join(' ');
  const script = `# flctl completion for bash (zsh: autoload -U +X bashcompinit && bashcompinit)
_flctl() {
  local cur verb subs flags
  cur="\${COMP_WORDS[COMP_CWORD]}"
  verb=""
  for w in "\${COMP_WORDS[@]:1:COMP_CWORD-1}"; do case "$w" in -*) ;; *) verb="$w"; break ;; esac; done
  if [ -z "$verb" ]; then COMPREPLY=( $(compgen -W "${verbs.join(' ')} --namespace --context --kubeconfig" -- "$cur") ); return; fi
  case "$verb" in
${subs.join('\n')}
  esac
  case "$verb" in
${flags.join('\n')}
  esac
  if [[ "$cur" == -* ]]; then COMPREPLY=( $(compgen -W "$flags --namespace --context --kubeconfig" -- "$cur") ); return; fi
  if [ -n "$subs" ] && [ "\${COMP_WORDS[COMP_CWORD-1]}" == "$verb" ]; then COMPREPLY=( $(compgen -W "$subs" -- "$cur") ); return; fi
  local prev="\${COMP_WORDS[COMP_CWORD-1]}"
  case "$verb" in
    get|describe|delete|label|annotate|scale|wait|explain|rollout|logs)
      if [[ " ${types} " == *" $prev "* ]]; then
        COMPREPLY=( $(compgen -W "$(flctl get "$prev" -o name 2>/dev/null | sed 's|.*/||')" -- "$cur") )
      else
        COMPREPLY=( $(compgen -W "${types}" -- "$cur") )
      fi ;;
  esac
}
complete -o default -F _flctl flctl
`;
  ctx.out(shell === 'zsh' ? `autoload -U +X bashcompinit && bashcompinit\n${script}` : script);
  return 0;
}
