#!/usr/bin/env bash
# npm run demo [-- --detach | --down] [--nodes N]
# The whole product on this machine (as root): a 3-host lab, the example app
# deployed from a real git repository by the engine, served through its VIP.
# `npm run demo` runs scripts/install-deps.sh and `npm ci` first (predemo).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
  echo "demo: the lab needs root (network namespaces, mounts, nftables); run: sudo npm run demo" >&2
  exit 1
fi
exec node --import tsx engine/cli/demo.ts "$@"
