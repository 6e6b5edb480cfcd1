/**
 * The rules for reading environment variables, shared by every part that reads one: the API's
 * configuration (config.ts), the page's config.json (web/server/runtime-config.ts, used by
 * `npm start` and `npm run dev`) and, as a copy of the same table, the nginx entrypoint
 * (web/nginx/entrypoint.sh; test/config-flags.test.ts checks that they agree).
 *
 * No dependencies and no Node globals: the page's type-checker follows imports into this file.
 */

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Accepted spellings of a boolean flag, compared after trimming and lower-casing. An unset or
 * empty variable takes the flag's default. Anything else is refused (never silently "off", as
 * the previous system's backend did for every value but the exact string "true").
 */
export const FLAG_SPELLINGS = {
  true: ['true', '1', 'yes', 'on'],
  false: ['false', '0', 'no', 'off'],
} as const;

/** The message for a flag with any other value; names the variable, never echoes its value. */
export const flagMessage = (name: string) =>
  `${name} must be one of ${FLAG_SPELLINGS.true.flatMap((t, i) => [t, FLAG_SPELLINGS.false[i]]).join(', ')} (any case)`;

/**
 * Reads a boolean flag.
 * @returns `fallback` when unset or empty, else the value's meaning per FLAG_SPELLINGS.
 * @throws ConfigError naming the variable for any other value.
 */
export function parseFlag(name: string, value: string | undefined, fallback: boolean): boolean {
  const v = (value ?? '').trim().toLowerCase();
  if (v === '') return fallback;
  if ((FLAG_SPELLINGS.true as readonly string[]).includes(v)) return true;
  if ((FLAG_SPELLINGS.false as readonly string[]).includes(v)) return false;
  throw new ConfigError(flagMessage(name));
}

/**
 * The one form a number in a setting takes, the same as the nginx image's entrypoint accepts
 * (`whole_number` in web/nginx/entrypoint.sh): ASCII digits, no sign, no leading zero (`080` is
 * refused, not read as 80 or as octal), no spaces, exponent, fraction or hex.
 */
export const WHOLE_NUMBER = /^(0|[1-9][0-9]*)$/;

/** A setting's number, or undefined when `text` is not in the form WHOLE_NUMBER describes. */
export function parseWholeNumber(text: string): number | undefined {
  return WHOLE_NUMBER.test(text) ? Number(text) : undefined;
}
