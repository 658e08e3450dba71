#!/usr/bin/env bash
# Installs the Debian packages in scripts/packages.txt that are missing (all of them, after
# an apt-get update, with --always). --python adds the optional list
# scripts/packages-python.txt (PyTorch, torchvision, ONNX, pytest for /usr/bin/python3: the
# Python package's tests and tools); --mpi the optional scripts/packages-mpi.txt (Open MPI,
# for MPI campaigns). Needs root or sudo.
# usage: deps.sh [--always] [--python] [--mpi]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
always=0 lists=("$here/packages.txt")
for arg in "$@"; do
  case "$arg" in
  --always) always=1 ;;
  --python) lists+=("$here/packages-python.txt") ;;
  --mpi) lists+=("$here/packages-mpi.txt") ;;
  *) echo "usage: scripts/deps.sh [--always] [--python] [--mpi]" >&2; exit 2 ;;
  esac
done
mapfile -t pkgs < <(cat "${lists[@]}" | grep -v '^\s*#' | sed '/^\s*$/d')
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "$always" = 0 ] && [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
[ "$always" = 1 ] && missing=("${pkgs[@]}")
sudo=""
[ "$(id -u)" -ne 0 ] && sudo=sudo
export DEBIAN_FRONTEND=noninteractive
echo "deps: installing ${missing[*]}" >&2
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
