import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../../common/errors.ts';

type Options = NonNullable<ParseArgsConfig['options']>;

/** node:util parseArgs, with its errors turned into UsageError (exit 2, no stack). */
export function parse<O extends Options>(args: string[], options: O, allowPositionals = true) {
  try {
    return parseArgs({ args, options, allowPositionals, strict: true });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}

/** The common `-o FORMAT` flag, checked against what the command supports. */
export function outputFormat<F extends string>(value: string | undefined, allowed: readonly F[], fallback: F): F {
  if (value === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(value)) {
    throw new UsageError(`-o ${value}: expected one of ${allowed.join(', ')}`);
  }
  return value as F;
}
