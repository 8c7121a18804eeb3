#!/usr/bin/env bash
# Regenerates the README's pictures of every dashboard view from shipped experiments, headless:
#   tools/screenshots.sh [BUILD_DIR]   (default build/release)
# Each picture is written to docs/images/dashboard_<view>.png. Look at them after a change:
# labels must not be clipped, and each chart must say what it shows.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build/release}"
dashboard="$build/gui/clustersim-dashboard"
if [[ ! -x "$dashboard" ]]; then
  echo "screenshots: $dashboard is not built (Qt6 Widgets + Charts; cmake --build --preset release)" >&2
  exit 2
fi
export QT_QPA_PLATFORM=offscreen
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
out="$root/docs/images"
mkdir -p "$out"
dsv3="$root/experiments/dsv3_2048xh800_mpft.yaml"
shot() {  # view, then the dashboard's other arguments
  local view="$1"
  shift
  "$dashboard" --screenshot "$view" "$out/dashboard_$view.png" "$@" 2> >(grep -v propagateSizeHints >&2)
  echo "docs/images/dashboard_$view.png"
}
shot topology "$dsv3" --compare ft2,ft3,mpft,mrft
shot breakdown "$dsv3"
shot memory "$dsv3"
shot timeline "$dsv3"
shot links "$dsv3"
shot sweep "$root/experiments/sweep_dsv3_fabric_rate.yaml" --x network_capex_usd --y step_time_s \
  --series parallelism.pp --pareto
