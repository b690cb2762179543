import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { missingPrograms } from './deps.ts';
import { initScript, nsenterArgv } from './host.ts';
import { containersConf, storageConf } from './podman.ts';
import { sshdConfig, sshdFiles } from './sshd.ts';

const init = initScript({
  name: 'h2',
  hostDir: "/tmp/it's/h2",
  storageDir: '/tmp/lab/h2/containers',
  containersConfigDir: '/tmp/lab/h2/etc-containers',
  sshdConfig: '/tmp/lab/h2/sshd_config',
  sshdLog: '/tmp/lab/h2/sshd.log',
});

describe('lab host init script', () => {
  it('is valid POSIX shell, also with a quote in a path', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'cox-init-')), 'init.sh');
    writeFileSync(file, init);
    execFileSync('sh', ['-n', file]);
    assert.match(init, /'\/tmp\/it'\\''s\/h2\/podman\.log'/);
  });

  const order = [
    'mount -t tmpfs -o mode=0755 cox-run /run',
    'mount --rbind /sys/fs/cgroup /run/cox-cgroup',
    'umount -l /sys',
    'mount -t sysfs sysfs /sys',
    'mount --rbind /run/cox-cgroup /sys/fs/cgroup',
    "mount --bind '/tmp/lab/h2/containers' /var/lib/containers",
    "mount --bind '/tmp/lab/h2/etc-containers' /etc/containers",
    "mount --bind '/tmp/it'\\''s/h2/private/var/lib/coxswain' /var/lib/coxswain",
    "mount --bind '/tmp/it'\\''s/h2/private/var/log' /var/log",
    '/usr/sbin/sshd -D',
    'podman system service --time 0 unix:///run/podman/podman.sock',
    'echo ready > /run/cox-host-ready',
    'wait',
  ];
  it('keeps the cgroup mounts across the fresh /sys, gives the host its own agent and log directories, and starts sshd and podman only after every mount', () => {
    let at = -1;
    for (const line of order) {
      const found = init.indexOf(line, at + 1);
      assert.ok(found > at, `"${line}" missing or out of order`);
      at = found;
    }
  });

  it('runs commands in all of the host’s namespaces, killed with the nsenter that started them', () => {
    assert.deepEqual(nsenterArgv(42, ['podman', 'ps']), ['nsenter', '-t', '42', '-m', '-n', '-u', '-p', '--', 'setpriv', '--pdeathsig', 'TERM', '--', 'podman', 'ps']);
  });
});

describe('lab host configuration files', () => {
  it('makes podman use runc, cgroupfs, netavark (CNI keeps its networks machine-wide), ulimits within the hard limit and the host pod subnet', () => {
    const conf = containersConf('100.64.3.0/24');
    assert.match(conf, /runtime = "runc"/);
    assert.match(conf, /cgroup_manager = "cgroupfs"/);
    assert.match(conf, /default_ulimits = \["nofile=10000:10000", "nproc=10000:10000"\]/);
    assert.match(conf, /\[network\]\n(.*\n)*network_backend = "netavark"\n/);
    assert.match(conf, /\[network\]\n(.*\n)*default_subnet = "100\.64\.3\.0\/24"/);
  });

  it('lists the shared image stores read-only in storage.conf', () => {
    assert.match(storageConf(['/var/cache/a', '/var/cache/b']), /additionalimagestores = \["\/var\/cache\/a", "\/var\/cache\/b"\]/);
  });

  it('makes sshd listen on the host address only, with keys only', () => {
    const conf = sshdConfig('198.18.0.11', sshdFiles('/lab/h1'), '/lab/authorized_keys');
    for (const line of ['ListenAddress 198.18.0.11:22', 'HostKey /lab/h1/ssh_host_ed25519_key', 'AuthorizedKeysFile /lab/authorized_keys', 'PasswordAuthentication no', 'UsePAM no', 'Subsystem sftp internal-sftp']) {
      assert.ok(conf.split('\n').includes(line), `missing: ${line}`);
    }
  });

  it('names the programs that are missing and only those', () => {
    assert.deepEqual(missingPrograms((path) => !path.endsWith('/catatonit') && !path.endsWith('/nft')), ['nft', 'catatonit']);
    assert.deepEqual(missingPrograms(() => true), []);
  });
});
