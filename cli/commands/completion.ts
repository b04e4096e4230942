/**
 * `strata completion bash|zsh|fish`: a shell completion script generated from the command table
 * (commands, subcommands of groups, each command's options and the global ones), so it never
 * disagrees with `strata --help`. Static: a TAB costs no strata process. Paths inside strata are
 * not completed (that would need the deployment).
 */
import { strataError } from "../../core/errors.ts";
import type { CommandSpec, OptionSpec } from "../command.ts";
import { GLOBAL_OPTIONS } from "../global-options.ts";

/** The command table and global options the script is made from. */
export interface CompletionSource {
  commands: CommandSpec[];
  globals: Record<string, OptionSpec>;
}

const SHELLS = ["bash", "zsh", "fish"] as const;

function flagsOf(options: Record<string, OptionSpec> | undefined): string[] {
  return Object.entries(options ?? {}).flatMap(([name, o]) => [
    `--${name}`,
    ...(o.short ? [`-${o.short}`] : []),
  ]);
}

/** First words, the subcommands of each group, and the flags after each first word. */
function tableOf(src: CompletionSource) {
  const firsts = [...new Set(src.commands.map((c) => c.name.split(" ")[0]!))];
  const subs = new Map<string, string[]>();
  const flags = new Map<string, Set<string>>();
  for (const c of src.commands) {
    const [first, sub] = c.name.split(" ") as [string, string | undefined];
    if (sub) subs.set(first, [...(subs.get(first) ?? []), sub]);
    const set = flags.get(first) ?? new Set(flagsOf(src.globals));
    for (const f of flagsOf(c.options)) set.add(f);
    flags.set(first, set);
  }
  return { firsts: [...new Set([...firsts, "help"])], subs, flags };
}

export function bashCompletion(src: CompletionSource): string {
  const { firsts, subs, flags } = tableOf(src);
  const subCases = [...subs].map(([g, s]) => `    ${g}) words="${s.join(" ")}" ;;`).join("\n");
  const flagCases = [...flags].map(([g, f]) => `    ${g}) words="${[...f].join(" ")}" ;;`).join("\n");
  return `# strata completion for bash: eval "$(strata completion bash)" (e.g. in ~/.bashrc)
_strata() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" first="\${COMP_WORDS[1]}" words=""
  if [[ $COMP_CWORD -eq 1 ]]; then
    COMPREPLY=($(compgen -W "${firsts.join(" ")} ${flagsOf(src.globals).join(" ")}" -- "$cur"))
    return
  fi
  if [[ $cur == -* ]]; then
    case "$first" in
${flagCases}
    esac
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
    return
  fi
  if [[ $COMP_CWORD -eq 2 ]]; then
    case "$first" in
${subCases}
    completion) words="${SHELLS.join(" ")}" ;;
    esac
    if [[ -n $words ]]; then
      COMPREPLY=($(compgen -W "$words" -- "$cur"))
      return
    fi
  fi
  COMPREPLY=($(compgen -f -- "$cur"))
}
complete -o filenames -F _strata strata
`;
}

export function zshCompletion(src: CompletionSource): string {
  return `# strata completion for zsh: eval "$(strata completion zsh)" (e.g. in ~/.zshrc)
autoload -U +X compinit && compinit
autoload -U +X bashcompinit && bashcompinit
${bashCompletion(src).split("\n").slice(1).join("\n")}`;
}

export function fishCompletion(src: CompletionSource): string {
  const { firsts, subs } = tableOf(src);
  const quote = (s: string) => `'${s.replace(/'/g, "\\'")}'`;
  const lines = [
    "# strata completion for fish: strata completion fish > ~/.config/fish/completions/strata.fish",
    "complete -c strata -f",
  ];
  const summaries = new Map<string, string>();
  for (const c of src.commands) if (!c.name.includes(" ")) summaries.set(c.name, c.summary);
  for (const first of firsts) {
    const desc = summaries.get(first) ?? (subs.has(first) ? `${first} subcommands` : first);
    lines.push(`complete -c strata -n __fish_use_subcommand -a ${first} -d ${quote(desc)}`);
  }
  for (const c of src.commands) {
    const [first, sub] = c.name.split(" ") as [string, string | undefined];
    if (sub)
      lines.push(
        `complete -c strata -n '__fish_seen_subcommand_from ${first}' -a ${sub} -d ${quote(c.summary)}`,
      );
    for (const [name, o] of Object.entries(c.options ?? {})) {
      lines.push(
        `complete -c strata -n '__fish_seen_subcommand_from ${first}' -l ${name}${o.short ? ` -s ${o.short}` : ""}${
          o.type === "string" ? " -r" : ""
        } -d ${quote(o.description)}`,
      );
    }
  }
  for (const [name, o] of Object.entries(src.globals))
    lines.push(
      `complete -c strata -l ${name}${o.short ? ` -s ${o.short}` : ""}${o.type === "string" ? " -r" : ""} -d ${quote(o.description)}`,
    );
  lines.push(`complete -c strata -n '__fish_seen_subcommand_from completion' -a '${SHELLS.join(" ")}'`);
  return `${lines.join("\n")}\n`;
}

/** `commands`: the table (cli/commands/index.ts), read when the command runs. */
export function completionCommands(commands: () => CommandSpec[]): CommandSpec[] {
  const source = (): CompletionSource => ({ commands: commands(), globals: GLOBAL_OPTIONS });
  return [
    {
      name: "completion",
      summary: "print a shell completion script (bash, zsh or fish)",
      args: "<bash|zsh|fish>",
      positionals: { min: 1, max: 1 },
      examples: [
        'eval "$(strata completion bash)"',
        'eval "$(strata completion zsh)"',
        "strata completion fish > ~/.config/fish/completions/strata.fish",
      ],
      notes: ["Completes commands, subcommands and options; local paths as files; not paths inside strata."],
      async run(ctx, { positionals }) {
        const shell = positionals[0]!;
        const src = source();
        const text =
          shell === "bash"
            ? bashCompletion(src)
            : shell === "zsh"
              ? zshCompletion(src)
              : shell === "fish"
                ? fishCompletion(src)
                : undefined;
        if (text === undefined)
          throw strataError(
            "EINVAL",
            `strata completion takes bash, zsh or fish, got ${JSON.stringify(shell)}`,
            {
              shell,
            },
          );
        ctx.io.stdout.write(text);
        return 0;
      },
    },
  ];
}
