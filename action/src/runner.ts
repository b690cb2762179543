/**
 * The GitHub runner's side of an action, as files and stdout lines: inputs
 * from INPUT_* variables, outputs and the job summary appended to the files
 * GITHUB_OUTPUT and GITHUB_STEP_SUMMARY name, workflow commands
 * (`::error file=...::`, `::add-mask::`, groups) on stdout. Everything goes
 * through one `Runner` so tests capture it and nothing else prints.
 */
import { appendFileSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from '../../common/errors.ts';

export type Env = Record<string, string | undefined>;

export interface Annotation {
  severity: 'error' | 'warning' | 'notice';
  file?: string;
  line?: number;
  column?: number;
  title?: string;
  message: string;
}

/** Data of a workflow command: `%`, CR and LF escaped (what @actions/core does). */
export function escapeData(text: string): string {
  return text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

/** A property of a workflow command: also `:` and `,`. */
export function escapeProperty(text: string): string {
  return escapeData(text).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

export function annotationCommand(a: Annotation): string {
  const props: string[] = [];
  if (a.file) props.push(`file=${escapeProperty(a.file)}`);
  if (a.line !== undefined) props.push(`line=${a.line}`);
  if (a.column !== undefined) props.push(`col=${a.column}`);
  if (a.title) props.push(`title=${escapeProperty(a.title)}`);
  return `::${a.severity}${props.length ? ` ${props.join(',')}` : ''}::${escapeData(a.message)}`;
}

/** An input as the runner passes it: `with: { status-branch: x }` becomes INPUT_STATUS-BRANCH (spaces become _, upper case). */
export function input(env: Env, name: string, fallback = ''): string {
  const value = env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`];
  return value === undefined || value.trim() === '' ? fallback : value.trim();
}

export function booleanInput(env: Env, name: string, fallback: boolean): boolean {
  const value = input(env, name, String(fallback));
  if (/^(true|True|TRUE)$/.test(value)) return true;
  if (/^(false|False|FALSE)$/.test(value)) return false;
  throw new UsageError(`input ${name}: "${value}" is not a boolean (true or false)`);
}

export class Runner {
  private readonly secrets: string[] = [];

  constructor(
    readonly env: Env,
    private readonly write: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
  ) {}

  /** Registers a secret with the runner (masked in its log) and with this runner (scrubbed from every line printed). */
  mask(secret: string): void {
    if (!secret) return;
    this.secrets.push(secret);
    this.write(`::add-mask::${secret}`);
  }

  /** Removes every masked secret from a text (for messages that may quote a URL or a git error). */
  scrub(text: string): string {
    let out = text;
    for (const s of this.secrets) out = out.split(s).join('***');
    return out;
  }

  log(line: string): void {
    this.write(this.scrub(line));
  }

  annotate(a: Annotation): void {
    this.write(this.scrub(annotationCommand(a)));
  }

  group(title: string): void {
    this.write(`::group::${escapeData(title)}`);
  }

  endGroup(): void {
    this.write('::endgroup::');
  }

  setOutput(name: string, value: string): void {
    const file = this.env.GITHUB_OUTPUT;
    if (!file) {
      this.log(`output ${name}=${value} (GITHUB_OUTPUT is not set)`);
      return;
    }
    if (value.includes('\n')) {
      const delimiter = `cox_${Math.random().toString(36).slice(2)}`;
      appendFileSync(file, `${name}<<${delimiter}\n${value}\n${delimiter}\n`);
    } else {
      appendFileSync(file, `${name}=${value}\n`);
    }
  }

  summary(markdown: string): void {
    const file = this.env.GITHUB_STEP_SUMMARY;
    if (!file) return;
    appendFileSync(file, `${this.scrub(markdown)}\n`);
  }

  /** A repository file as the annotation wants it: relative to the workspace (where GitHub shows the diff). */
  workspacePath(repoDir: string, file: string): string {
    const workspace = this.env.GITHUB_WORKSPACE ?? process.cwd();
    return path.relative(workspace, path.resolve(repoDir, file)).split(path.sep).join('/');
  }
}
