#!/usr/bin/env bash
# Installs the Debian 12 packages clustersim needs, and only those that are missing.
# Idempotent and non-interactive; waits for another apt/dpkg to release its lock.
# Package list and versions: see README.md "Dependencies".
set -euo pipefail

packages=(
  # build tools
  cmake ninja-build g++ clang-format
  # fuzzing (tools/fuzz.sh): Clang and its libFuzzer runtime
  clang libclang-rt-14-dev
  # engine and CLI libraries
  libboost-graph-dev libeigen3-dev libyaml-cpp-dev libfmt-dev
  libcli11-dev nlohmann-json3-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  # dashboard (Qt6 Widgets + Charts) and headless screenshots
  qt6-base-dev qt6-charts-dev libqt6opengl6-dev qt6-qpa-plugins xvfb xauth fonts-dejavu-core
  # sweeps across machines
  libopenmpi-dev openmpi-bin
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  sudo_cmd=(sudo)
fi

echo "install-deps: installing ${#missing[@]} missing packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get -o DPkg::Lock::Timeout=600 update -q
"${sudo_cmd[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${missing[@]}"
