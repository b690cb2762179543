import assert from 'node:assert/strict';
import { annotationCommand, booleanInput, input, Runner } from './runner.ts';
import { sectionsOf, withSection } from './comment.ts';
import { refusal } from './preview.ts';

describe('workflow commands', () => {
  const cases: Array<[string, Parameters<typeof annotationCommand>[0], string]> = [
    ['an error names its file, line and column', { severity: 'error', file: 'nodes/h1.yaml', line: 3, column: 7, message: 'spec.ssh.address: required' }, '::error file=nodes/h1.yaml,line=3,col=7::spec.ssh.address: required'],
    ['colons and commas in properties are escaped, not in the message', { severity: 'warning', file: 'a,b.yaml', title: 'Coxswain: x', message: 'a: b, c' }, '::warning file=a%2Cb.yaml,title=Coxswain%3A x::a: b, c'],
    ['a multi-line message stays one command', { severity: 'error', message: '50% done\nnext line\r' }, '::error::50%25 done%0Anext line%0D'],
  ];
  for (const [name, annotation, expected] of cases) it(name, () => assert.equal(annotationCommand(annotation), expected));

  it('reads inputs the way the runner names them, trimmed, with defaults for empty ones', () => {
    const env = { 'INPUT_STATUS-BRANCH': ' coxswain/status2 ', INPUT_COMMENT: 'false', INPUT_PATH: '' };
    assert.equal(input(env, 'status-branch'), 'coxswain/status2');
    assert.equal(input(env, 'path', '.'), '.');
    assert.equal(booleanInput(env, 'comment', true), false);
    assert.throws(() => booleanInput({ INPUT_COMMENT: 'yes' }, 'comment', true), /input comment: "yes" is not a boolean/);
  });

  it('masks a secret once and scrubs it from everything printed afterwards', () => {
    const lines: string[] = [];
    const runner = new Runner({}, (l) => lines.push(l));
    runner.mask('s3cret');
    runner.log('fatal: https://x-access-token:s3cret@github.com/acme/cluster denied');
    runner.annotate({ severity: 'error', message: 'token s3cret refused' });
    assert.deepEqual(lines, ['::add-mask::s3cret', 'fatal: https://x-access-token:***@github.com/acme/cluster denied', '::error::token *** refused']);
  });
});

describe('the sticky comment', () => {
  it('a first plan makes a comment with the marker and the plan section', () => {
    assert.equal(withSection(undefined, 'plan', 'P1\n'), '<!-- coxswain-plan -->\n<!-- coxswain:plan:start -->\nP1\n<!-- coxswain:plan:end -->\n');
  });

  it('a preview adds its section after the plan and a new plan keeps it', () => {
    const withPreview = withSection(withSection(undefined, 'plan', 'P1'), 'preview', 'V1');
    const replanned = withSection(withPreview, 'plan', 'P2');
    assert.deepEqual(sectionsOf(replanned), { plan: 'P2', preview: 'V1' });
    assert.ok(replanned.startsWith('<!-- coxswain-plan -->\n'));
  });

  it('a section too long for a GitHub comment is cut at a line and says where to read the rest', () => {
    const long = Array.from({ length: 2000 }, (_, i) => `| \`demo/web-${i}\` | h1 |`).join('\n');
    const body = withSection(undefined, 'plan', long);
    assert.ok(body.length < 65_536 / 2, String(body.length));
    assert.match(body, /\| h1 \|\n\n_… cut here: \d+ characters in all; the job summary has everything\._\n<!-- coxswain:plan:end -->/);
  });

  it('a comment from an older version without sections is replaced by one with them', () => {
    assert.deepEqual(sectionsOf(withSection('<!-- coxswain-plan -->\nold text', 'plan', 'P')), { plan: 'P' });
  });
});

describe('which pull requests may have a preview', () => {
  const cases: Array<[string, Parameters<typeof refusal>[0], RegExp | undefined]> = [
    ['a same-repository pull request may', { number: 3, headSha: 'a', headRepo: 'acme/c', baseRepo: 'acme/c' }, undefined],
    ['a fork may not, and the refusal names the fork', { number: 3, headSha: 'a', headRepo: 'eve/c', baseRepo: 'acme/c' }, /head is in the fork eve\/c, not acme\/c/],
    ['a run without a pull request may not', undefined, /previews need a pull_request event \(this run is a push event\)/],
  ];
  for (const [name, pr, expected] of cases) {
    it(name, () => {
      const r = refusal(pr, 'push');
      if (expected) assert.match(r ?? '', expected);
      else assert.equal(r, undefined);
    });
  }
});
