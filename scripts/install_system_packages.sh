#!/usr/bin/env bash
# Debian packages used by the tests. Idempotent: installs only what is missing.
#   chromium                                   report rendering in headless Chromium
#   slurmctld slurmd slurm-client munge        the one-node SLURM cluster of tests/workflow/test_slurm_cluster.py
#                                              (scripts/slurm_local_cluster.sh; no daemon is started here)
set -euo pipefail
packages=(chromium slurmctld slurmd slurm-client munge)
missing=()
for package in "${packages[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  # Package scripts must not start munged or the SLURM daemons (the tests start and stop their own):
  # deny service starts during the install, unless a policy-rc.d is already in place.
  policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
    $SUDO chmod 0755 "$policy"
    trap '$SUDO rm -f "$policy"' EXIT
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
