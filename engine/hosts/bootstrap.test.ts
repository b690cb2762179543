import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { AgentVersion } from '../../common/agent-api.ts';
import { agentArgv, daemonRestartScript, DEFAULT_AGENT_PATHS, initSystemOf, planBootstrap, systemdUnit, type BootstrapStep } from './bootstrap.ts';
import { commandLine } from './ssh.ts';

const bundle = { contents: Buffer.from('export {};\n'), build: 'b2'.repeat(32) };
const running = (build: string) => ({ running: true as const, version: { version: '0.1.0', apiVersion: 'v1', build } satisfies AgentVersion });

function describeSteps(steps: BootstrapStep[]): string[] {
  return steps.map((step) => (step.kind === 'exec' ? `exec ${commandLine(step.command).split('\n')[0]}` : step.kind === 'upload' ? `upload ${step.path} ${step.mode.toString(8)}` : `wait ${step.build.slice(0, 4)}`));
}

describe('agent bootstrap plans', () => {
  it('a host that runs the same build gets no step at all', () => {
    const plan = planBootstrap(running(bundle.build), bundle, 'daemon');
    assert.deepEqual(plan.steps, []);
    assert.equal(plan.reason, `agent 0.1.0 build ${bundle.build.slice(0, 12)} already runs`);
  });

  it('a host without an agent gets the upload, an atomic install, a daemon restart and a wait, in that order', () => {
    const plan = planBootstrap({ running: false, reason: 'cannot open /run/coxswain/agent.sock: nothing listens on it' }, bundle, 'daemon');
    assert.equal(plan.reason, 'no agent answers (cannot open /run/coxswain/agent.sock: nothing listens on it)');
    assert.deepEqual(describeSteps(plan.steps), [
      'exec mkdir -p /usr/local/lib/coxswain',
      'upload /usr/local/lib/coxswain/cox-agent.mjs.upload 755',
      'exec mv -f /usr/local/lib/coxswain/cox-agent.mjs.upload /usr/local/lib/coxswain/cox-agent.mjs',
      'exec set -e',
      'wait b2b2',
    ]);
  });

  it('a host that runs another build on systemd gets the unit written and restarted', () => {
    const plan = planBootstrap(running('a1'.repeat(32)), bundle, 'systemd');
    assert.equal(plan.reason, `agent build a1a1a1a1a1a1 differs from b2b2b2b2b2b2`);
    assert.deepEqual(describeSteps(plan.steps).slice(3), [
      'upload /etc/systemd/system/cox-agent.service 644',
      'exec systemctl daemon-reload && systemctl enable cox-agent.service && systemctl restart cox-agent.service',
      'wait b2b2',
    ]);
  });

  const inits: Array<[string, string, 'systemd' | 'daemon']> = [
    ['a host whose PID 1 is systemd uses a unit', 'systemd\n', 'systemd'],
    ["a lab host whose PID 1 is catatonit uses a daemon", 'catatonit\n', 'daemon'],
    ['a container whose PID 1 is a shell uses a daemon', 'sh', 'daemon'],
  ];
  for (const [name, comm, expected] of inits) it(name, () => assert.equal(initSystemOf(comm), expected));

  it('the unit runs the same argv as the daemon and leaves containers alone when stopped', () => {
    const unit = systemdUnit(DEFAULT_AGENT_PATHS);
    assert.match(unit, /^ExecStart=\/usr\/bin\/env node \/usr\/local\/lib\/coxswain\/cox-agent\.mjs serve --socket \/run\/coxswain\/agent\.sock$/m);
    assert.match(unit, /^KillMode=process$/m);
    assert.deepEqual(agentArgv(DEFAULT_AGENT_PATHS), ['node', '/usr/local/lib/coxswain/cox-agent.mjs', 'serve', '--socket', '/run/coxswain/agent.sock']);
  });

  it('the daemon restart script is valid POSIX shell that stops the old agent by its pidfile before starting the new one', async () => {
    const script = daemonRestartScript(DEFAULT_AGENT_PATHS);
    await promisify(execFile)('sh', ['-n', '-c', script]);
    const stop = script.indexOf('kill -TERM "$old"');
    const start = script.indexOf('setsid node /usr/local/lib/coxswain/cox-agent.mjs serve');
    assert.ok(stop > 0 && start > stop, script);
    assert.match(script, /echo \$! > \/run\/coxswain\/agent\.pid$/);
  });
});
