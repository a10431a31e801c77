/**
 * How a flag's value is read, alike for every flag that takes one: a value must follow it (`--env` alone is an
 * error, not a silent fallback to the default), and a repeated flag keeps its last value, as most CLIs do (yargs
 * would otherwise hand the command an array). Repeatable flags (`-e`, the hooks) collect every value instead.
 */

/** The last of a repeated flag's values. */
function lastValue(given: unknown): unknown {
  return Array.isArray(given) ? given.at(-1) : given;
}

/**
 * A flag `--name` that takes a string, never an empty one (`V`: the values `choices` in `extra` allow, checked here so
 * that the error reads like every other bad value's; yargs' own check wrote "Invalid values: Argument: …").
 */
export function stringOption<V extends string = string, const T extends Record<string, unknown> = Record<never, never>>(
  name: string,
  describe: string,
  extra?: T,
) {
  return {
    type: 'string',
    requiresArg: true,
    coerce: (given: unknown): V => {
      const value = lastValue(given);
      // `-s ''` listed the default location, `-i ''` made a key with instance `_`: an empty variable, most likely.
      if (value === '') throw new Error(`Invalid --${name} "": expected a value`);
      const choices = (extra as { choices?: readonly string[] } | undefined)?.choices;
      if (choices && !choices.includes(value as string)) {
        throw new Error(`Invalid --${name} ${JSON.stringify(value)}: expected ${choices.slice(0, -1).join(', ')} or ${choices.at(-1)}`);
      }
      return value as V;
    },
    describe,
    ...extra,
  } as const;
}

/**
 * A flag that takes a whole number from `min` to `max`, written as plain decimal digits. The value arrives as typed
 * (main turns yargs' `parse-numbers` off): yargs' own number parsing took `0x10`, ` 3` and `1e3` for numbers, and an
 * error about them named what it had made of them (`1e9` as 1000000000), not what was typed.
 */
export function wholeNumberOption(name: string, describe: string, range: { min: number; max?: number }) {
  const expected = range.max === undefined ? `a whole number of at least ${range.min}` : `a whole number from ${range.min} to ${range.max}`;
  return {
    describe,
    requiresArg: true,
    coerce: (given: unknown): number => {
      const value = lastValue(given);
      const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : NaN;
      if (!(n >= range.min && n <= (range.max ?? Infinity))) throw new Error(`Invalid --${name} ${JSON.stringify(value)}: expected ${expected}`);
      return n;
    },
  } as const;
}

/**
 * A repeatable flag (`-e a -e b`): each occurrence takes exactly one value, collected in order. Not yargs' `array`
 * type, which takes every word that follows, a positional key included (`--post-swap-hook ./h.sh dev/…` lost the key).
 * An empty value is kept: `--pre-swap-hook ""` turns the configured hooks off.
 */
export function repeatableOption(describe: string, extra?: { alias?: string }) {
  return {
    type: 'string',
    requiresArg: true,
    coerce: (given: unknown): string[] => (Array.isArray(given) ? given : [given]).map(String),
    describe,
    ...extra,
  } as const;
}

/**
 * Fails, as a usage error, on a boolean flag given a value other than true or false (`--json=maybe`, `-lq=yes`,
 * `--no-long=x`): yargs reads any such value as false, which ran a command the user did not ask for. `options` are
 * yargs' own, read once the command's flags are known. Only the `=` form can carry a value: a word after a boolean
 * flag is the next argument.
 */
export function assertBooleanValues(argv: readonly string[], options: { boolean: readonly string[] }): void {
  const end = argv.includes('--') ? argv.indexOf('--') : argv.length;
  for (const arg of argv.slice(0, end)) {
    // `-lq=x` gives the value to the last letter, as yargs reads it.
    const m = /^(--([^=]+)|-([^-=]+))=(.*)$/s.exec(arg);
    if (!m) continue;
    const name = m[2] ?? m[3]!.at(-1)!;
    const value = m[4]!;
    const boolean = options.boolean.includes(name) || (name.startsWith('no-') && options.boolean.includes(name.slice(3)));
    if (boolean && value !== 'true' && value !== 'false') {
      throw Object.assign(new Error(`Invalid ${m[2] ? '--' : '-'}${name} ${JSON.stringify(value)}: expected true or false`), { usage: true });
    }
  }
}
