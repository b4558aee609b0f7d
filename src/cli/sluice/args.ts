/**
 * Argument parsing for the `sluice` command line: each command declares its options and
 * positionals (a CommandSpec); parseCommand reads argv against it plus the global options and
 * renders the command's usage for `--help` and for mistakes.
 *
 * Options: `--name value`, `--name=value`, `-x value`, `-xvalue`; flags without a value are
 * booleans; `--` ends the options. Options and positionals may come in any order. A mistake is a
 * UsageError (exit 2, with the command's usage); `-h` / `--help` is HelpRequested (exit 0).
 */

export interface OptionSpec {
  /** Long name without the dashes: `partitions`. */
  name: string;
  /** One letter: `p`. */
  short?: string;
  /** The value's placeholder (`N`, `KEY=VALUE`); absent: a flag without a value. */
  value?: string;
  /** May be given more than once (every value is kept). */
  repeat?: boolean;
  help: string;
}

export interface PositionalSpec {
  name: string;
  optional?: boolean;
  /** Takes every remaining positional (one or more, or none when optional). */
  variadic?: boolean;
}

export interface CommandSpec {
  /** The full command path: `sluice topic create`. */
  path: string;
  summary: string;
  positionals?: PositionalSpec[];
  options?: OptionSpec[];
  /** Extra lines after the options (examples, notes). */
  notes?: string[];
}

/** A mistake on the command line: exit 2 with the command's usage. */
export class UsageError extends Error {
  constructor(message: string, readonly usage: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** `-h` / `--help`: print the usage on stdout, exit 0. */
export class HelpRequested extends Error {
  constructor(readonly usage: string) {
    super("help");
    this.name = "HelpRequested";
  }
}

export const GLOBAL_OPTIONS: readonly OptionSpec[] = [
  {
    name: "url",
    value: "URL",
    help: "the server (else SLUICE_URL, the config file, http://127.0.0.1:8080)",
  },
  { name: "token", value: "TOKEN", help: "bearer token (else SLUICE_TOKEN, the config file)" },
  {
    name: "config",
    value: "FILE",
    help: 'config file with {"url","token"} (default ~/.config/sluice/config.json)',
  },
  { name: "json", help: "print JSON for scripts instead of tables" },
  { name: "quiet", short: "q", help: "no progress or summaries on stderr" },
  { name: "help", short: "h", help: "show this help" },
];

export class Parsed {
  constructor(
    readonly positionals: string[],
    readonly values: Map<string, string[]>,
    readonly usage: string,
  ) {}

  has(name: string): boolean {
    return this.values.has(name);
  }

  /** The option's last value, or undefined. */
  get(name: string): string | undefined {
    const all = this.values.get(name);
    return all === undefined ? undefined : all[all.length - 1];
  }

  all(name: string): string[] {
    return this.values.get(name) ?? [];
  }

  /** The option as an integer in [min, max], or `fallback` when absent; a UsageError otherwise. */
  int(name: string, fallback: number, min: number, max: number): number;
  int(name: string, fallback: undefined, min: number, max: number): number | undefined;
  int(name: string, fallback: number | undefined, min: number, max: number): number | undefined {
    const text = this.get(name);
    if (text === undefined) return fallback;
    return parseIntArg(text, `--${name}`, min, max, this.usage);
  }

  fail(message: string): never {
    throw new UsageError(message, this.usage);
  }
}

export function parseIntArg(
  text: string,
  what: string,
  min: number,
  max: number,
  usage: string,
): number {
  const n = /^-?\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`${what} must be an integer from ${min} to ${max}, not "${text}"`, usage);
  }
  return n;
}

function optionLabel(o: OptionSpec): string {
  const long = `--${o.name}${o.value === undefined ? "" : ` ${o.value}`}`;
  return o.short === undefined ? `    ${long}` : `-${o.short}, ${long}`;
}

function optionLines(options: readonly OptionSpec[]): string[] {
  const labels = options.map(optionLabel);
  const width = Math.min(32, Math.max(...labels.map((l) => l.length)));
  return options.map((o, i) =>
    `  ${labels[i].padEnd(width)}  ${o.help}${o.repeat ? " (repeatable)" : ""}`
  );
}

function positionalLabel(p: PositionalSpec): string {
  const name = p.variadic ? `${p.name}...` : p.name;
  return p.optional ? `[${name}]` : name;
}

export function renderUsage(spec: CommandSpec): string {
  const positionals = (spec.positionals ?? []).map(positionalLabel).join(" ");
  const lines = [
    `Usage: ${spec.path}${positionals === "" ? "" : ` ${positionals}`} [options]`,
    "",
    spec.summary,
  ];
  if ((spec.options ?? []).length > 0) lines.push("", "Options:", ...optionLines(spec.options!));
  lines.push("", "Global options:", ...optionLines(GLOBAL_OPTIONS));
  if (spec.notes !== undefined) lines.push("", ...spec.notes);
  return lines.join("\n") + "\n";
}

/** Parses argv (after the command's words) against the spec and the global options. */
export function parseCommand(spec: CommandSpec, argv: readonly string[]): Parsed {
  const usage = renderUsage(spec);
  const options = [...(spec.options ?? []), ...GLOBAL_OPTIONS];
  const byLong = new Map(options.map((o) => [o.name, o]));
  const byShort = new Map(options.filter((o) => o.short).map((o) => [o.short!, o]));
  const values = new Map<string, string[]>();
  const positionals: string[] = [];
  const fail = (message: string): never => {
    throw new UsageError(message, usage);
  };
  const put = (o: OptionSpec, value: string) => {
    const list = values.get(o.name);
    if (list !== undefined && !o.repeat && o.value !== undefined) {
      fail(`--${o.name} is given twice`);
    }
    if (list === undefined) values.set(o.name, [value]);
    else list.push(value);
  };

  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      const name = arg.slice(2, eq < 0 ? undefined : eq);
      const o = byLong.get(name);
      if (o === undefined) fail(`unknown option --${name}`);
      if (o!.value === undefined) {
        if (eq >= 0) fail(`--${name} takes no value`);
        put(o!, "true");
      } else if (eq >= 0) {
        put(o!, arg.slice(eq + 1));
      } else {
        if (i + 1 >= argv.length) fail(`--${name} needs a value (${o!.value})`);
        put(o!, argv[++i]);
      }
    } else if (arg.startsWith("-") && arg.length > 1) {
      const o = byShort.get(arg[1]);
      if (o === undefined) fail(`unknown option ${arg}`);
      if (o!.value === undefined) {
        if (arg.length > 2) fail(`-${arg[1]} takes no value`);
        put(o!, "true");
      } else if (arg.length > 2) {
        put(o!, arg.slice(2));
      } else {
        if (i + 1 >= argv.length) fail(`-${arg[1]} needs a value (${o!.value})`);
        put(o!, argv[++i]);
      }
    } else {
      positionals.push(arg);
    }
  }
  if (values.has("help")) throw new HelpRequested(usage);

  const specs = spec.positionals ?? [];
  const required = specs.filter((p) => !p.optional).length;
  const variadic = specs.some((p) => p.variadic);
  if (positionals.length < required) {
    fail(`missing ${specs[positionals.length].name}`);
  }
  if (!variadic && positionals.length > specs.length) {
    fail(`unexpected argument "${positionals[specs.length]}"`);
  }
  return new Parsed(positionals, values, usage);
}

/** A family's usage: `sluice topic` and its subcommands. */
export function renderFamilyUsage(
  path: string,
  summary: string,
  commands: readonly { name: string; summary: string }[],
): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    `Usage: ${path} <command> [options]`,
    "",
    summary,
    "",
    "Commands:",
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
    `Run "${path} <command> --help" for a command's options.`,
  ].join("\n") + "\n";
}
