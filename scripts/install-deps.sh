#!/usr/bin/env bash
# Debian packages the lab, the agent and the tests need. Idempotent; installs only what is missing.
set -euo pipefail
packages=(podman netavark aardvark-dns runc openssl nftables ipvsadm openssh-server busybox-static conntrack qemu-system-x86 iproute2 cpio git catatonit util-linux tar)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "install-deps: missing Debian packages: ${missing[*]} (run as root to install them)" >&2
    exit 1
  fi
  echo "install-deps: installing ${missing[*]}" >&2
  apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
fi
