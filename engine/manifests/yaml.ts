/**
 * YAML (and JSON, which is YAML) with positions: every document of a file,
 * its plain value, and a way back from a field path to a line and column.
 *
 * Two parsers, one meaning. js-yaml reads values about ten times faster than
 * `yaml`, so every file is read with it; `yaml` (which keeps each node's
 * source range) is run only when a position is asked for — a diagnostic, or
 * sourceOf/positionOf — and for files js-yaml refuses, so that a syntax error
 * in one document still lets the others load. Scalars are resolved the way
 * kubectl (go-yaml v2) resolves them: YAML 1.1 booleans (yes/no/on/off) and
 * octal (`mode: 0644` is 420), timestamps left as strings.
 */
import jsyaml from 'js-yaml';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseAllDocuments, type Document, type Node } from 'yaml';

export type FieldPath = Array<string | number>;

export interface Position {
  line: number;
  column: number;
}

export interface ParsedDocument {
  /** The plain value (undefined for an empty document). */
  value: unknown;
  /** Where the document's content starts. */
  position: Position;
  /** Syntax errors, positioned. A document with errors has no value. */
  errors: Array<Position & { message: string }>;
  /** Locates a field path inside this document. */
  locate: (path: FieldPath, which?: 'key' | 'value') => Position;
}

/** Deeper than this is refused before parsing (real manifests nest about 15 deep). */
export const MAX_NESTING = 256;

const builtin = (jsyaml as unknown as { types: Record<'null' | 'float' | 'merge', jsyaml.Type> }).types;

const BOOLEANS: Record<string, boolean> = Object.fromEntries([
  ...['y', 'Y', 'yes', 'Yes', 'YES', 'true', 'True', 'TRUE', 'on', 'On', 'ON'].map((word) => [word, true]),
  ...['n', 'N', 'no', 'No', 'NO', 'false', 'False', 'FALSE', 'off', 'Off', 'OFF'].map((word) => [word, false]),
]);

const INTEGER = /^[-+]?(?:0|[1-9][0-9]*|0[0-7]+|0o[0-7]+|0x[0-9a-fA-F]+|0b[01]+)$/;

/** A cheap first look before any regular expression: a digit, or a sign or dot then a digit. */
function startsLikeNumber(data: string): boolean {
  const c = data.charCodeAt(0);
  return (c >= 48 && c <= 57) || c === 43 || c === 45 || c === 46;
}

function integerValue(text: string): number {
  const sign = text.startsWith('-') ? -1 : 1;
  const digits = text.replace(/^[-+]/, '');
  if (digits.startsWith('0x')) return sign * parseInt(digits.slice(2), 16);
  if (digits.startsWith('0o')) return sign * parseInt(digits.slice(2), 8);
  if (digits.startsWith('0b')) return sign * parseInt(digits.slice(2), 2);
  if (digits.length > 1 && digits.startsWith('0')) return sign * parseInt(digits.slice(1), 8);
  return sign * parseInt(digits, 10);
}

/** Scalars as go-yaml v2 (and so kubectl) resolves them. */
export const KUBECTL_SCHEMA = jsyaml.FAILSAFE_SCHEMA.extend({
  implicit: [
    builtin.null,
    new jsyaml.Type('tag:yaml.org,2002:bool', {
      kind: 'scalar',
      resolve: (data: string | null) => data !== null && data.length <= 5 && Object.hasOwn(BOOLEANS, data),
      construct: (data: string) => BOOLEANS[data],
      predicate: (value: unknown) => typeof value === 'boolean',
    }),
    new jsyaml.Type('tag:yaml.org,2002:int', {
      kind: 'scalar',
      resolve: (data: string | null) => data !== null && startsLikeNumber(data) && INTEGER.test(data),
      construct: integerValue,
      predicate: (value: unknown) => typeof value === 'number' && Number.isInteger(value),
    }),
    builtin.float,
  ],
  explicit: [builtin.merge],
});

/** More aliases than this and the file goes to the parser that bounds alias expansion. */
const MAX_ALIASES = 100;
const ALIAS = /(?:^|[\s[{,])\*[^\s,\]}]/g;

/** Parses every document of a file. Never throws for any input text. */
export function parseYamlDocuments(text: string): ParsedDocument[] {
  const tooDeep = nestingBeyondLimit(text);
  if (tooDeep !== undefined) return [nestingError(text, tooDeep)];
  if (text.includes('*') && (text.match(ALIAS)?.length ?? 0) > MAX_ALIASES) return parseWithPositions(text);
  let values: unknown[];
  try {
    values = jsyaml.loadAll(text, null, { schema: KUBECTL_SCHEMA }).filter((value) => value !== null && value !== undefined);
  } catch {
    return parseWithPositions(text);
  }
  let positioned: ParsedDocument[] | undefined;
  const withPositions = () => (positioned ??= parseWithPositions(text).filter((doc) => doc.value !== undefined && doc.value !== null));
  const start = { line: 1, column: 1 };
  return values.map((value, i) => ({
    value,
    errors: [],
    get position() {
      return withPositions()[i]?.position ?? start;
    },
    locate: (path: FieldPath, which?: 'key' | 'value') => withPositions()[i]?.locate(path, which) ?? start,
  }));
}

function nestingError(text: string, offset: number): ParsedDocument {
  // The parsers would exhaust the stack, and a stack overflow inside V8's regular
  // expression engine can leave the process unable to compile regexps afterwards.
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  const position = { line, column: offset - lineStart + 1 };
  return { value: undefined, position, errors: [{ ...position, message: `nesting deeper than ${MAX_NESTING} levels` }], locate: () => position };
}

/** The slow path: `yaml` with every node's range; values of documents without errors still come from js-yaml. */
function parseWithPositions(text: string): ParsedDocument[] {
  const lineCounter = new LineCounter();
  const at = (offset: number): Position => {
    const { line, col } = lineCounter.linePos(Math.max(0, Math.min(offset, text.length)));
    return { line, column: col };
  };
  // YAML 1.1 for the structure (keys such as `on:` resolve as go-yaml resolves them).
  const documents = parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: true, version: '1.1' }) as Document[] | { errors?: unknown };
  const list = Array.isArray(documents) ? documents : [];
  return list.map((doc) => {
    // One broken bracket can produce hundreds of errors; the first few say it all.
    const errors = doc.errors.slice(0, 5).map((err) => ({ ...at(err.pos[0]), message: cleanMessage(err.message) }));
    let value: unknown;
    if (errors.length === 0 && doc.contents !== null) {
      try {
        // Bounded alias expansion first (it throws on alias bombs), then the same scalar meaning as the fast path.
        value = doc.toJS({ maxAliasCount: MAX_ALIASES });
        const range = doc.contents.range;
        if (range) {
          try {
            value = jsyaml.load(text.slice(range[0], range[2]), { schema: KUBECTL_SCHEMA });
          } catch {
            // keep yaml's value: the slice alone is not a document (e.g. it uses an anchor from elsewhere)
          }
        }
      } catch (err) {
        errors.push({ ...at(doc.contents.range?.[0] ?? 0), message: cleanMessage(err instanceof Error ? err.message : String(err)) });
      }
    }
    const contents = doc.contents as Node | null;
    return {
      value,
      position: at(contents?.range?.[0] ?? doc.range?.[0] ?? 0),
      errors,
      locate: (path, which = 'value') => at(offsetOf(contents, path, which) ?? contents?.range?.[0] ?? 0),
    };
  });
}

/** Occurrences of a character, counting no further than `limit`. */
function count(text: string, char: string, limit: number): number {
  let n = 0;
  for (let i = text.indexOf(char); i !== -1 && n <= limit; i = text.indexOf(char, i + 1)) n++;
  return n;
}

function hasLineLongerThan(text: string, length: number): boolean {
  for (let start = 0; start < text.length; ) {
    const newline = text.indexOf('\n', start);
    const end = newline === -1 ? text.length : newline;
    if (end - start > length) return true;
    start = end + 1;
  }
  return false;
}

/**
 * Where the text first nests deeper than MAX_NESTING, counting open flow
 * brackets and block indentation ("- " and "? " count as a level each).
 * Quotes are ignored: this is a guard, not a parser.
 */
function nestingBeyondLimit(text: string): number | undefined {
  // Nesting that deep needs that many brackets or a line that long: native checks rule out nearly every file.
  if (text.length <= MAX_NESTING) return undefined;
  if (!hasLineLongerThan(text, MAX_NESTING) && count(text, '[', MAX_NESTING) + count(text, '{', MAX_NESTING) <= MAX_NESTING) return undefined;
  let flow = 0;
  let lineStart = true;
  let block = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10) {
      lineStart = true;
      block = 0;
      continue;
    }
    if (lineStart) {
      if (c === 32 || c === 9) {
        block += 0.5;
      } else if ((c === 45 || c === 63) && (text.charCodeAt(i + 1) === 32 || text.charCodeAt(i + 1) === 9)) {
        block += 1;
        i++;
      } else {
        lineStart = false;
      }
      if (block + flow > MAX_NESTING) return i;
    }
    if (c === 91 || c === 123) {
      if (++flow + block > MAX_NESTING) return i;
    } else if ((c === 93 || c === 125) && flow > 0) {
      flow--;
    }
  }
  return undefined;
}

/**
 * The offset of a field: its key (for "unknown field" and "unsupported field")
 * or its value. When the path leaves the document (a missing field), the
 * deepest node that exists is used.
 */
function offsetOf(root: Node | null, path: FieldPath, which: 'key' | 'value'): number | undefined {
  let node: unknown = root;
  let offset = root?.range?.[0];
  for (let i = 0; i < path.length; i++) {
    const segment = path[i];
    const last = i === path.length - 1;
    if (isMap(node)) {
      const pair = node.items.find((item) => isPair(item) && keyOf(item.key) === String(segment));
      if (!pair) return offset;
      const keyOffset = (pair.key as Node | null)?.range?.[0];
      if (last && which === 'key' && keyOffset !== undefined) return keyOffset;
      node = pair.value;
      offset = (pair.value as Node | null)?.range?.[0] ?? keyOffset ?? offset;
    } else if (isSeq(node) && typeof segment === 'number') {
      const item = node.items[segment] as Node | undefined;
      if (!item) return offset;
      node = item;
      offset = item.range?.[0] ?? offset;
    } else {
      return offset;
    }
  }
  return offset;
}

function keyOf(key: unknown): string | undefined {
  if (isScalar(key)) return String(key.value);
  return undefined;
}

function cleanMessage(message: string): string {
  // yaml's messages end with " at line L, column C" plus a code excerpt when prettyErrors is on; keep the first sentence.
  return message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
}
