#!/usr/bin/env bash
# Runs every test of the workspace. Installs what the tests use from the
# system when it is missing (node, to compare event-loop orderings with
# Node's and for the lab's Node model; curl and python3 as real HTTP
# clients; chromium, to render the lab's HTML report; apache2 and mod_php
# for the lab's Apache model).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v node >/dev/null || need+=(nodejs)
command -v curl >/dev/null || need+=(curl)
command -v python3 >/dev/null || need+=(python3)
command -v chromium >/dev/null || need+=(chromium)
command -v apache2 >/dev/null || [ -x /usr/sbin/apache2 ] || need+=(apache2)
compgen -G '/usr/lib/apache2/modules/libphp*.so' >/dev/null || need+=(libapache2-mod-php)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
  # The lab starts Apache with its own configuration; the package's
  # service (on port 80) is not used. Stop it if the install started it.
  if [[ " ${need[*]} " == *apache* ]]; then
    $SUDO apache2ctl stop >/dev/null 2>&1 || true
  fi
fi

# Tests that open thousands of sockets raise their own soft limit; give them
# room to do so.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

cargo test --workspace --all-features "$@"
