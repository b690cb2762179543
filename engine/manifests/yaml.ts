/**
 * YAML (and JSON, which is YAML) with positions: every document of a file,
 * its plain value, and a way back from a field path to a line and column.
 */
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

/** Parses every document of a file. Never throws for any input text. */
export function parseYamlDocuments(text: string): ParsedDocument[] {
  const lineCounter = new LineCounter();
  const at = (offset: number): Position => {
    const { line, col } = lineCounter.linePos(Math.max(0, Math.min(offset, text.length)));
    return { line, column: col };
  };
  const tooDeep = nestingBeyondLimit(text);
  if (tooDeep !== undefined) {
    // The parser would exhaust the stack, and a stack overflow inside V8's regular
    // expression engine can leave the process unable to compile regexps afterwards.
    lineCounter.addNewLine(0);
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) lineCounter.addNewLine(i + 1);
    const position = at(tooDeep);
    const error = { ...position, message: `nesting deeper than ${MAX_NESTING} levels` };
    return [{ value: undefined, position, errors: [error], locate: () => position }];
  }
  // YAML 1.1, as kubectl (go-yaml) reads manifests: `mode: 0644` is octal, `yes` is a boolean.
  const documents = parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: true, version: '1.1' }) as Document[] | { errors?: unknown };
  const list = Array.isArray(documents) ? documents : [];
  return list.map((doc) => {
    // One broken bracket can produce hundreds of errors; the first few say it all.
    const errors = doc.errors.slice(0, 5).map((err) => ({ ...at(err.pos[0]), message: cleanMessage(err.message) }));
    let value: unknown;
    if (errors.length === 0 && doc.contents !== null) {
      try {
        value = doc.toJS({ maxAliasCount: 100 });
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

/**
 * Where the text first nests deeper than MAX_NESTING, counting open flow
 * brackets and block indentation ("- " and "? " count as a level each).
 * Quotes are ignored: this is a guard, not a parser.
 */
function nestingBeyondLimit(text: string): number | undefined {
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
