#!/usr/bin/env bash
# Runs a command with the services up: starts those not running, runs the
# command, and stops again only what this script started.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
before=$(bash "$root/scripts/services.sh" status 2>/dev/null | grep -c running || true)
bash "$root/scripts/services.sh" up
status=0
"$@" || status=$?
if [ "$before" = "0" ]; then
  bash "$root/scripts/services.sh" down || true
fi
exit $status
