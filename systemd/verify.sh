#!/usr/bin/env bash
# systemd-analyze verify on both units. Their ExecStart points at the install location
# (/opt/dunkwatch, ~/dunkwatch), which a checkout is not, so a copy points at this checkout.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/system" "$work/user" "$work/runtime"
chmod 700 "$work/runtime"
sed "s#/opt/dunkwatch#$here#g" "$here/systemd/dunkwatch.service" > "$work/system/dunkwatch.service"
sed "s#%h/dunkwatch#$here#g" "$here/systemd/user/dunkwatch.service" > "$work/user/dunkwatch.service"
# systemd-analyze exits 0 on an unknown key and only warns, so any message counts as a failure.
out="$(systemd-analyze verify "$work/system/dunkwatch.service" 2>&1)" || { echo "$out"; exit 1; }
out+="$(XDG_RUNTIME_DIR="$work/runtime" systemd-analyze --user verify "$work/user/dunkwatch.service" 2>&1)" \
    || { echo "$out"; exit 1; }
if [ -n "$out" ]; then
    echo "$out" | sed "s#$work/##g"
    exit 1
fi
# Hardening: the system unit's exposure score must stay at 2.0 or below (threshold in tenths).
if ! score="$(systemd-analyze security --offline=true --threshold=20 "$work/system/dunkwatch.service" 2>&1)"; then
    echo "$score" | tail -n 1
    echo "dunkwatch.service: exposure above 2.0"
    exit 1
fi
echo "$score" | tail -n 1
echo "systemd units verified"
