import assert from 'node:assert/strict';
import { ConfigError, UsageError } from '../../common/errors.ts';
import { parseEngineFlags } from './engine.ts';

const URL_REPO = 'http://127.0.0.1:8080/cluster.git';
const env = { SSH_AUTH_SOCK: '/run/agent.sock', COX_WEBHOOK_SECRET: 's3cret' };
const parse = (args: string[], environment: NodeJS.ProcessEnv = env) => parseEngineFlags(args, { cwd: process.cwd(), env: environment });

describe('cox engine flags', () => {
  it('a URL repository is fetched every 30 s unless --fetch-interval says otherwise, in seconds', () => {
    assert.equal(parse(['--repo', URL_REPO]).fetchIntervalMs, undefined);
    assert.equal(parse(['--repo', URL_REPO, '--fetch-interval', '600']).fetchIntervalMs, 600_000);
    assert.equal(parse(['--repo', URL_REPO, '--fetch-interval', '0']).fetchIntervalMs, 0, '0: only on webhook');
    assert.throws(() => parse(['--repo', URL_REPO, '--fetch-interval', 'often']), (err: unknown) => err instanceof UsageError && /--fetch-interval often: expected a number of seconds/.test(err.message));
  });

  it('--webhook listens where it is told, with the secret from COX_WEBHOOK_SECRET', () => {
    assert.deepEqual(parse(['--repo', URL_REPO, '--webhook', '127.0.0.1:0']).webhook, { host: '127.0.0.1', port: 0, secret: 's3cret' });
    assert.deepEqual(parse(['--repo', URL_REPO, '--webhook', '9465']).webhook, { host: '127.0.0.1', port: 9465, secret: 's3cret' });
  });

  it('refuses --webhook without a secret, since unsigned webhooks are refused anyway', () => {
    assert.throws(() => parse(['--repo', URL_REPO, '--webhook', '9465'], { SSH_AUTH_SOCK: '/run/agent.sock' }), (err: unknown) => err instanceof ConfigError && /COX_WEBHOOK_SECRET/.test(err.message));
  });

  it('names the flag of a bad listen address', () => {
    assert.throws(() => parse(['--repo', URL_REPO, '--webhook', 'localhost:http']), /--webhook localhost:http: expected PORT or HOST:PORT/);
  });

  it('takes http(s) URLs only, and never repeats credentials written in one', () => {
    assert.equal(parse(['--repo', 'https://github.com/acme/cluster.git']).repo, 'https://github.com/acme/cluster.git');
    assert.throws(() => parse(['--repo', 'ssh://git:hunter2@github.com/acme/cluster.git']), (err: unknown) => err instanceof UsageError && err.message === '--repo ssh://***@github.com/acme/cluster.git: only http(s) URLs (git\'s smart HTTP) are supported; clone it and pass the directory instead');
  });

  it('refuses --webhook and --fetch-interval for a local repository, which is watched', () => {
    assert.throws(() => parse(['--repo', '.', '--webhook', '9465']), (err: unknown) => err instanceof UsageError && /--webhook is for a URL --repo/.test(err.message));
    assert.throws(() => parse(['--repo', '.', '--fetch-interval', '5']), (err: unknown) => err instanceof UsageError && /--fetch-interval is for a URL --repo/.test(err.message));
  });

  it('--status-window sets the status batching window in milliseconds; without it the writer keeps its 500 ms', () => {
    assert.equal(parse(['--repo', '.']).statusWindowMs, undefined);
    assert.equal(parse(['--repo', '.', '--status-window', '2000']).statusWindowMs, 2000);
    assert.equal(parse(['--repo', URL_REPO, '--status-window', '0']).statusWindowMs, 0, '0: a commit per change');
  });

  for (const bad of ['soon', '-1', '1.5', '1e3', '', ' ']) {
    it(`--status-window ${JSON.stringify(bad)} is a usage error that names the flag`, () => {
      assert.throws(() => parse(['--repo', '.', `--status-window=${bad}`]), (err: unknown) => err instanceof UsageError && err.message === `--status-window ${bad}: expected a whole number of milliseconds (default 500; 0: a commit per change)`);
    });
  }

  it('--status-window without a value is a usage error too (exit 2 through cox)', async () => {
    const { main } = await import('./main.ts');
    let stderr = '';
    const code = await main(['engine', '--repo', '.', '--status-window'], { stdout: () => {}, stderr: (t) => (stderr += t), cwd: process.cwd(), env });
    assert.equal(code, 2);
    assert.match(stderr, /^cox engine: .*--status-window/);
  });
});
