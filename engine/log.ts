/**
 * Structured logs: one JSON object per event, one line each, on stderr.
 * `{"time":"…","level":"info","event":"pod.bound","pod":"default/web-1","node":"h2"}`
 * Events are named `subject.verb`; fields are flat so `jq` and log shippers read them as-is.
 */
import { CoxError } from '../common/errors.ts';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(event: string, fields?: LogFields): void;
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
  /** A logger whose every line also carries these fields. */
  with(fields: LogFields): Logger;
}

export interface LoggerOptions {
  level?: LogLevel;
  write?: (line: string) => void;
  now?: () => Date;
}

export function createLogger(options: LoggerOptions = {}, bound: LogFields = {}): Logger {
  const min = rank[options.level ?? 'info'];
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const now = options.now ?? (() => new Date());
  const emit = (level: LogLevel, event: string, fields: LogFields = {}) => {
    if (rank[level] < min) return;
    write(`${JSON.stringify({ time: now().toISOString(), level, event, ...bound, ...flatten(fields) })}\n`);
  };
  return {
    debug: (event, fields) => emit('debug', event, fields),
    info: (event, fields) => emit('info', event, fields),
    warn: (event, fields) => emit('warn', event, fields),
    error: (event, fields) => emit('error', event, fields),
    with: (fields) => createLogger(options, { ...bound, ...fields }),
  };
}

/** Errors become `{error, code}`, so a log line says what went wrong in the catalogue's words. */
function flatten(fields: LogFields): LogFields {
  const out: LogFields = {};
  for (const [key, value] of Object.entries(fields)) {
    if (value instanceof CoxError) {
      out[key] = value.message;
      out[`${key}Code`] = value.code;
    } else if (value instanceof Error) {
      out[key] = value.message;
    } else if (value !== undefined) {
      out[key] = value;
    }
  }
  return out;
}

export function parseLogLevel(value: string | undefined): LogLevel | undefined {
  if (value === undefined) return undefined;
  return value in rank ? (value as LogLevel) : undefined;
}

/** A logger that drops everything (tests, `--quiet`). */
export const silentLogger: Logger = createLogger({ write: () => {} });
