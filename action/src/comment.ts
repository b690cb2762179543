/**
 * The one sticky comment's body: the hidden marker that finds it again, then a
 * section per mode (plan, preview), each between its own hidden delimiters, so
 * a plan job and a preview job update their part without erasing the other's.
 * Pure.
 */
import { PLAN_MARKER } from './github.ts';

export type Section = 'plan' | 'preview';
const ORDER: Section[] = ['plan', 'preview'];
/** GitHub refuses comment bodies over 65,536 characters; each section keeps under half of that. */
export const SECTION_LIMIT = 30_000;

const start = (s: Section) => `<!-- coxswain:${s}:start -->`;
const end = (s: Section) => `<!-- coxswain:${s}:end -->`;

export function sectionsOf(body: string | undefined): Partial<Record<Section, string>> {
  const out: Partial<Record<Section, string>> = {};
  if (!body) return out;
  for (const s of ORDER) {
    const i = body.indexOf(start(s));
    const j = body.indexOf(end(s));
    if (i >= 0 && j > i) out[s] = body.slice(i + start(s).length, j).replace(/^\n/, '').replace(/\n$/, '');
  }
  return out;
}

/** The comment with `section` replaced by `content` (undefined removes it); other sections are kept as they were. */
export function withSection(body: string | undefined, section: Section, content: string | undefined): string {
  const sections = sectionsOf(body);
  if (content === undefined) delete sections[section];
  else sections[section] = truncate(content.replace(/\n+$/, ''));
  const parts = [PLAN_MARKER];
  for (const s of ORDER) if (sections[s] !== undefined) parts.push(start(s), sections[s]!, end(s));
  return `${parts.join('\n')}\n`;
}

/** A section cut at a line boundary under SECTION_LIMIT, saying so (the job summary keeps the whole text). */
export function truncate(content: string): string {
  if (content.length <= SECTION_LIMIT) return content;
  const cut = content.lastIndexOf('\n', SECTION_LIMIT - 200);
  return `${content.slice(0, cut > 0 ? cut : SECTION_LIMIT - 200)}\n\n_… cut here: ${content.length} characters in all; the job summary has everything._`;
}
