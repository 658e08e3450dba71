#!/usr/bin/env bash
# Installs the Debian packages in scripts/packages.txt that are missing (all of them, after
# an apt-get update, with --always). Needs root or sudo.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mapfile -t pkgs < <(grep -v '^\s*#' "$here/packages.txt" | sed '/^\s*$/d')
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${1:-}" != "--always" ] && [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
[ "${1:-}" = "--always" ] && missing=("${pkgs[@]}")
sudo=""
[ "$(id -u)" -ne 0 ] && sudo=sudo
export DEBIAN_FRONTEND=noninteractive
echo "deps: installing ${missing[*]}" >&2
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
