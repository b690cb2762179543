/** The loader's public shapes (re-exported by engine/manifests/index.ts). */

/** A file to load: its path as it should be printed, and its text. */
export interface SourceFile {
  path: string;
  text: string;
}

export interface Diagnostic {
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based. */
  column: number;
  severity: 'error' | 'warning';
  /** The field path the message is about, e.g. spec.template.spec.containers[0].image. */
  field?: string;
  /** One sentence, starting with the field path when there is one. */
  message: string;
}

/** Any object read from the repository (validated and defaulted); its exact type follows from `kind`. */
export interface ManifestObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}
