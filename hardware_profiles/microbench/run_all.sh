#!/usr/bin/env bash
# Runs the clustersim CUDA microbenchmarks on this machine and merges their results into one
# measured file: hardware_profiles/measured/<gpu-slug>-<YYYY-MM-DD>.json, or OUTPUT.
#
#   run_all.sh [--quick] [OUTPUT [BIN_DIR]]    measure (about 2 minutes on one H200; each program
#                                              is bounded by a timeout, 10 minutes in all)
#   run_all.sh --merge OUTPUT FILE...          only merge existing measured files
#
# BIN_DIR holds the built programs (default: $CS_MICROBENCH_BIN, else
# build/release/hardware_profiles/microbench). An empty OUTPUT ("") means the default path.
# Merging uses python3 (merge_measured.py), or jq where python3 is missing.
#
# Exit status: 0 all programs measured (cs_p2p and cs_nccl may skip on one GPU); 1 a program failed
# or timed out (the file is still written with the others' cases), or the merge failed; 2 bad
# command line; 77 no CUDA GPU (nothing written).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
source_text="clustersim microbenchmarks (hardware_profiles/microbench/run_all.sh)"

usage() {
  sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

# merge OUTPUT FILE...: OUTPUT may be a file, or a folder ending in / for <gpu-slug>-<date>.json.
merge() {
  local output="$1"
  shift
  local today
  today="$(date -u +%F)"
  if [[ "${CS_MERGE_TOOL:-}" != jq ]] && command -v python3 >/dev/null 2>&1; then
    if [[ "$output" == */ ]]; then
      python3 "$here/merge_measured.py" --source "$source_text" --date "$today" \
        --output-dir "$output" "$@"
    else
      python3 "$here/merge_measured.py" --source "$source_text" --date "$today" \
        --output "$output" "$@"
    fi
    return
  fi
  if ! command -v jq >/dev/null 2>&1; then
    echo "run_all: neither python3 nor jq is installed: cannot merge $*" >&2
    return 1
  fi
  if [[ "$output" == */ ]]; then
    local gpu
    gpu="$(jq -r -s 'map(.machine.gpu // empty) | first // ""' "$@")"
    local slug
    slug="$(printf '%s' "$gpu" | tr '[:upper:]' '[:lower:]' |
      sed -E 's/[^a-z0-9.]+/-/g; s/^-+//; s/-+$//')"
    if [[ -z "$slug" ]]; then
      echo "run_all: no file names the GPU (machine.gpu)" >&2
      return 1
    fi
    output="${output}${slug}-${today}.json"
  fi
  # The machine objects merge key by key, the first file's value winning; cases concatenate.
  jq -s --arg source "$source_text" --arg date "$today" '
    if any(.[]; .format != "clustersim-measured/1") then error("not a clustersim-measured/1 file")
    else . end
    | {format: "clustersim-measured/1", source: $source, date: $date,
       programs: (map(.programs // []) | add | unique)}
      + (if any(.[]; .quick == true) then {quick: true} else {} end)
      + {machine: (reduce .[].machine as $m ({}; $m + .))}
      + (map(.skipped_cases // []) | add | if length > 0 then {skipped_cases: .} else {} end)
      + {cases: (map(.cases) | add)}' "$@" >"$output"
  echo "$output"
}

if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
  usage
  exit 0
fi
if [[ "${1:-}" == "--merge" ]]; then
  if [[ $# -lt 3 ]]; then
    usage >&2
    exit 2
  fi
  shift
  merge "$@"
  exit
fi

quick=()
if [[ "${1:-}" == "--quick" ]]; then
  quick=(--quick)
  shift
fi
if [[ $# -gt 2 || "${1:-}" == -* ]]; then
  usage >&2
  exit 2
fi
output="${1:-}"
bin_dir="${2:-${CS_MICROBENCH_BIN:-$repo/build/release/hardware_profiles/microbench}}"
if [[ -z "$output" ]]; then
  output="$repo/hardware_profiles/measured/"
  mkdir -p "$output"
fi

for program in cs_device_probe cs_hbm cs_gemm cs_gemm_sm_reserved cs_p2p; do
  if [[ ! -x "$bin_dir/$program" ]]; then
    echo "run_all: $bin_dir/$program not found: build the microbenchmarks or give BIN_DIR" >&2
    exit 1
  fi
done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

set +e
"$bin_dir/cs_device_probe" -o "$work/probe.json"
probe_status=$?
set -e
if [[ $probe_status -eq 77 ]]; then
  echo "run_all: skipped (no CUDA GPU)" >&2
  exit 77
elif [[ $probe_status -ne 0 ]]; then
  echo "run_all: cs_device_probe failed (exit $probe_status)" >&2
  exit 1
fi

fragments=()
failed=()
# run PROGRAM TIMEOUT_S [ARGS...]: adds the program's file to the merge, or notes its failure.
run() {
  local program="$1"
  local limit="$2"
  shift 2
  local file="$work/$program.json"
  echo "run_all: $program (at most ${limit} s)" >&2
  set +e
  timeout --kill-after=10 "$limit" "$bin_dir/$program" -o "$file" "$@"
  local status=$?
  set -e
  case $status in
    0) fragments+=("$file") ;;
    77) echo "run_all: $program skipped" >&2 ;;
    124 | 137) echo "run_all: $program timed out after ${limit} s" >&2 && failed+=("$program") ;;
    *) echo "run_all: $program failed (exit $status)" >&2 && failed+=("$program") ;;
  esac
  [[ $status -eq 0 ]]
}

# Time limits add up to 10 minutes with the probe; on one H200 the whole set takes about 2.
run cs_hbm 60 "${quick[@]}" || true
run cs_gemm 180 "${quick[@]}" || true
run cs_gemm_sm_reserved 150 "${quick[@]}" || true
run cs_p2p 60 "${quick[@]}" || true
if [[ -x "$bin_dir/cs_nccl" ]]; then
  if ! run cs_nccl 120 "${quick[@]}"; then
    # One GPU: no collectives, but the machine description still names the NCCL version.
    run cs_nccl 30 --machine-only || true
  fi
else
  echo "run_all: cs_nccl was not built (no NCCL): no collective cases" >&2
fi

if [[ ${#fragments[@]} -eq 0 ]]; then
  echo "run_all: no program produced results" >&2
  exit 1
fi
written="$(merge "$output" "${fragments[@]}")"
echo "run_all: wrote $written" >&2
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "run_all: failed: ${failed[*]}" >&2
  exit 1
fi
