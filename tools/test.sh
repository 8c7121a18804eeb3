#!/usr/bin/env bash
# Sets up (installs missing Debian packages), builds and runs the whole test suite:
#   1. release build with warnings as errors, GUI and CUDA targets included, and every test;
#   2. the formatting check;
#   3. with --sanitize (what CI runs): a second build under AddressSanitizer +
#      UndefinedBehaviorSanitizer that runs the test suite again, a ThreadSanitizer build of
#      the program and the tests of its threaded runners (sweeps, the validation suite), and
#      60 s of fuzzing for each input reader (tools/fuzz.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

sanitize=0
for arg in "$@"; do
  case "$arg" in
    --sanitize) sanitize=1 ;;
    *) echo "usage: tools/test.sh [--sanitize]" >&2; exit 2 ;;
  esac
done

jobs=$(nproc)
step() { printf '\n== %s (%ss)\n' "$1" "$SECONDS"; }

step "install dependencies"
tools/install-deps.sh

step "release build (-Werror)"
cmake --preset release
cmake --build --preset release -j "$jobs"

step "format check"
tools/check-format.sh

if [ "$sanitize" = 1 ]; then
  step "sanitizer build (ASan + UBSan)"
  cmake --preset asan
  cmake --build --preset asan -j "$jobs"
  step "test suite under sanitizers"
  ctest --preset asan -j "$jobs"
  step "thread-sanitizer build (sweep and validation-suite runners)"
  cmake --preset tsan
  cmake --build --preset tsan -j "$jobs" --target clustersim clustersim_cli_tests \
    clustersim_report_tests
  step "threaded runners under ThreadSanitizer"
  ctest --preset tsan -j "$jobs"
  step "fuzzing (60 s per target)"
  tools/fuzz.sh 60
fi

step "test suite (release)"
ctest --preset release -j "$jobs"
step "done"
