/** Per-host container engine configuration: each host's own copy of /etc/containers. */
import { copyFileSync, cpSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** crun fails on this hybrid cgroup machine and podman's default ulimits need CAP_SYS_RESOURCE (see LAB.md). */
export function containersConf(podCIDR: string): string {
  return [
    '[containers]',
    'default_ulimits = ["nofile=10000:10000", "nproc=10000:10000"]',
    '',
    '[engine]',
    'cgroup_manager = "cgroupfs"',
    'runtime = "runc"',
    'events_logger = "file"',
    '',
    '[network]',
    // Without netavark podman 4.3 falls back to CNI, whose configs live in /etc/cni/net.d: one directory for
    // every host on the machine, so hosts would share (and fight over) their pod networks.
    'network_backend = "netavark"',
    `default_subnet = "${podCIDR}"`,
    '',
  ].join('\n');
}

export function storageConf(imageStores: string[]): string {
  return [
    '[storage]',
    'driver = "overlay"',
    'runroot = "/run/containers/storage"',
    'graphroot = "/var/lib/containers/storage"',
    '',
    '[storage.options]',
    `additionalimagestores = [${imageStores.map((s) => JSON.stringify(s)).join(', ')}]`,
    '',
  ].join('\n');
}

/** Writes dir as the host's /etc/containers: the machine's policy and registries, the lab's engine and storage settings. */
export function writeContainersConfig(dir: string, podCIDR: string, imageStores: string[]): void {
  mkdirSync(join(dir, 'networks'), { recursive: true });
  for (const file of ['policy.json', 'registries.conf']) {
    if (existsSync(join('/etc/containers', file))) copyFileSync(join('/etc/containers', file), join(dir, file));
  }
  if (existsSync('/etc/containers/registries.conf.d')) {
    cpSync('/etc/containers/registries.conf.d', join(dir, 'registries.conf.d'), { recursive: true });
  }
  if (!existsSync(join(dir, 'policy.json'))) {
    writeFileSync(join(dir, 'policy.json'), `${JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }, null, 2)}\n`);
  }
  writeFileSync(join(dir, 'containers.conf'), containersConf(podCIDR));
  writeFileSync(join(dir, 'storage.conf'), storageConf(imageStores));
}
