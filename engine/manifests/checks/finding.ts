import type { FieldPath } from '../yaml.ts';
import { formatPath } from '../schema.ts';

/** A problem found in one object, before it has a file position. */
export interface Finding {
  path: FieldPath;
  which: 'key' | 'value';
  severity: 'error' | 'warning';
  message: string;
}

/** Collects findings with the field path as the sentence's subject. */
export class Findings {
  readonly list: Finding[] = [];

  error(path: FieldPath, message: string, which: 'key' | 'value' = 'value'): void {
    this.list.push({ path, which, severity: 'error', message: `${formatPath(path)}: ${message}` });
  }

  warning(path: FieldPath, message: string, which: 'key' | 'value' = 'value'): void {
    this.list.push({ path, which, severity: 'warning', message: `${formatPath(path)}: ${message}` });
  }
}
