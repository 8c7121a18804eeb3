#!/usr/bin/env bash
# Fuzzes clustersim's input readers with libFuzzer, under AddressSanitizer and
# UndefinedBehaviorSanitizer: one target per card kind through its loader (model, hardware,
# topology, experiment with validate's checks, sweep, cost profile, software stack), the unit
# parser, and the measured-file JSON reader (tests/fuzz/). Bad input must give the reader's own
# error; any other exception, a crash, a sanitizer report, a leak, a hang or a blow-up is a finding.
#
#   tools/fuzz.sh [SECONDS] [TARGET...]
#
# SECONDS (default 60) is each target's time; TARGETs (default all) are named as in tests/fuzz,
# with or without the fuzz_ prefix: `tools/fuzz.sh 600 experiment units`. Extra libFuzzer
# flags come from $FUZZ_FLAGS (`FUZZ_FLAGS=-jobs=2 tools/fuzz.sh 3600 sweep`).
#
# It builds the `fuzz` preset (Clang; only the targets and the libraries they use), seeds each
# target from the shipped files of its kind, the bad-input corpus and the target's regressions,
# and runs it with -max_total_time=SECONDS -timeout=10 -rss_limit_mb=2048. Under build/fuzz/:
#   corpus/TARGET/     the working corpus: grows from run to run (delete it to start over)
#   seeds/TARGET/      the seeds of this run, rebuilt each time
#   dict/              dictionaries of the keys and values the shipped files use
#   artifacts/TARGET/  what a run found: crash-*, timeout-*, oom-*, leak-*
#   logs/TARGET.log    libFuzzer's output
# One summary line per target; the exit status is 1 when any target found something.
#
# A finding: reproduce it with `build/fuzz/tests/fuzz/TARGET FILE`, minimize it with
# `build/fuzz/tests/fuzz/TARGET -minimize_crash=1 -runs=10000 FILE`, fix the reader, and add the
# minimized input to tests/fuzz/regressions/TARGET/, which every build replays (ctest -R Fuzz).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -eq 0 ]; then
  echo "usage: tools/fuzz.sh [SECONDS] [TARGET...]" >&2
  exit 2
fi
shift $(($# > 0 ? 1 : 0))

all_targets=(fuzz_model_card fuzz_hardware_profile fuzz_topology_card fuzz_experiment fuzz_sweep
             fuzz_cost_profile fuzz_software_stack fuzz_measured_file fuzz_units)
targets=()
for name in "$@"; do
  target="fuzz_${name#fuzz_}"
  if [[ " ${all_targets[*]} " != *" $target "* ]]; then
    echo "fuzz.sh: unknown target \"$name\"; targets: ${all_targets[*]}" >&2
    exit 2
  fi
  targets+=("$target")
done
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")

tools/install-deps.sh
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$(nproc)" --target "${targets[@]}"

out=build/fuzz
bin=$out/tests/fuzz
mkdir -p "$out/dict" "$out/logs"

# Seeds: the shipped files, each copied under a name that keeps its folder (a/b.yaml -> a__b.yaml).
seed() {  # seed TARGET FILE...
  local dir=$out/seeds/$1
  shift
  mkdir -p "$dir"
  local file
  for file in "$@"; do
    [ -f "$file" ] && cp "$file" "$dir/${file//\//__}"
  done
  return 0
}
# The bad-input corpus, by the kind its header gives; not the alias bomb, whose descendants each
# take seconds under the sanitizers (its limit is pinned by the bad-input tests).
seed_bad() {  # seed_bad TARGET KIND
  local file
  for file in tests/data/bad/*.yaml; do
    if grep -qx "# kind: $2" "$file" && ! grep -q "expands to more than" "$file"; then
      seed "$1" "$file"
    fi
  done
}
rm -rf "$out/seeds"
seed fuzz_model_card models/*.yaml tests/data/good/models/*.yaml tests/data/bad/cards/models/*.yaml
seed_bad fuzz_model_card model
seed fuzz_hardware_profile hardware_profiles/*.yaml
seed_bad fuzz_hardware_profile hardware
seed fuzz_topology_card topologies/*.yaml
seed_bad fuzz_topology_card topology
mapfile -t shipped_experiments < <(grep -L '^axes:' experiments/*.yaml)
mapfile -t shipped_sweeps < <(grep -l '^axes:' experiments/*.yaml)
seed fuzz_experiment "${shipped_experiments[@]}" experiments/validation/*.yaml \
  tests/data/good/experiments/*.yaml
seed_bad fuzz_experiment experiment
seed fuzz_sweep "${shipped_sweeps[@]}" tests/data/good/sweep_*.yaml
seed_bad fuzz_sweep sweep
seed fuzz_cost_profile hardware_profiles/costs/*.yaml
seed_bad fuzz_cost_profile cost
seed fuzz_software_stack software_stacks/*.yaml
seed_bad fuzz_software_stack stack
seed fuzz_measured_file hardware_profiles/measured/*.json tests/data/measured/*.json
# Units: the list in tests/fuzz/units.txt and every quoted value of the shipped cards.
mkdir -p "$out/seeds/fuzz_units"
{
  grep -v '^#' tests/fuzz/units.txt
  cat models/*.yaml hardware_profiles/*.yaml hardware_profiles/costs/*.yaml topologies/*.yaml \
    software_stacks/*.yaml experiments/*.yaml | grep -o '"[^"]*"' | tr -d '"'
} | sort -u | awk -v dir="$out/seeds/fuzz_units" '
  { file = sprintf("%s/%04d", dir, NR); printf "%s", $0 > file; close(file) }'

# Dictionaries: YAML keys and the word values of the shipped cards; the measured files' keys; the
# unit symbols. Each entry quoted, with bytes outside printable ASCII as \xNN, as libFuzzer reads.
quote() { perl -ne 'chomp; s/([\\"])/\\$1/g; s/([^\x20-\x7e])/sprintf("\\x%02X", ord $1)/ge; print "\"$_\"\n"'; }
yaml_files=(models/*.yaml hardware_profiles/*.yaml hardware_profiles/costs/*.yaml topologies/*.yaml
            software_stacks/*.yaml experiments/*.yaml experiments/validation/*.yaml)
{
  sed -n 's/^[ -]*\([A-Za-z_][A-Za-z0-9_]*\):.*/\1:/p' "${yaml_files[@]}"
  sed -n 's/^[ -]*[A-Za-z_][A-Za-z0-9_]*: *\([a-z_][a-z0-9_]*\) *\(#.*\)\{0,1\}$/\1/p' \
    "${yaml_files[@]}"
  printf '%s\n' base: '&a' '*a' '[' ']' '{' '}' '~' null true false
} | sort -u | quote >"$out/dict/yaml.dict"
{
  grep -ho '"[A-Za-z_][A-Za-z0-9_./-]*"' hardware_profiles/measured/*.json
  printf '%s\n' '"null"' '"true"' '"1e400"' '"-0"'
} | sort -u >"$out/dict/json.dict"
grep -v '^#' tests/fuzz/units.txt | sed -n 's/^[^A-Za-z%µ]*\([^ ]\{1,\}\)$/\1/p' | sort -u |
  quote >"$out/dict/units.dict"

dict_of() {
  case "$1" in
    fuzz_measured_file) echo "$out/dict/json.dict" ;;
    fuzz_units) echo "$out/dict/units.dict" ;;
    *) echo "$out/dict/yaml.dict" ;;
  esac
}

failed=0
summary=()
for target in "${targets[@]}"; do
  corpus=$out/corpus/$target
  artifacts=$out/artifacts/$target
  log=$out/logs/$target.log
  mkdir -p "$corpus" "$artifacts"
  echo "== $target: ${seconds} s"
  status=0
  # The outer timeout stops a process that hangs where libFuzzer's own limits cannot (it reports
  # exit 137).
  # shellcheck disable=SC2086  # FUZZ_FLAGS is a list of flags
  timeout --signal=KILL $((seconds + 300)) \
    "$bin/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -dict="$(dict_of "$target")" -artifact_prefix="$artifacts/" -print_final_stats=1 \
    ${FUZZ_FLAGS:-} "$corpus" "$out/seeds/$target" "tests/fuzz/regressions/$target" \
    >"$log" 2>&1 || status=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  coverage=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -n 1)
  line="$target: ${runs:-?} runs, ${coverage:-no coverage line}, corpus $(find "$corpus" -type f | wc -l) files"
  if [ "$status" -ne 0 ]; then
    failed=1
    line="$line, FOUND (exit $status): $(grep -m 1 -E '^==[0-9]+==ERROR|^SUMMARY|ALARM|out-of-memory|runtime error|terminate called' "$log" || echo "see $log")"
    line="$line; input: $(sed -n 's/.*Test unit written to \(.*\)/\1/p' "$log" | tail -n 1)"
  fi
  summary+=("$line")
  echo "$line"
done

echo
echo "== fuzzing summary (${seconds} s per target; logs in $out/logs)"
printf '%s\n' "${summary[@]}"
exit "$failed"
