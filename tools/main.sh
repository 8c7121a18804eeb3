#!/usr/bin/env bash
# Sets up (installs missing Debian packages), builds clustersim, and runs the main job: the
# DeepSeek-V3 model card with its counts, the memory per GPU of the 2048 x H800 pre-training
# layout (MPFT and MRFT experiments), and the networks of ISCA'25 Table 3.
# (The step simulation itself joins this script when the training-step engine lands.)
set -euo pipefail
cd "$(dirname "$0")/.."

tools/install-deps.sh
cmake --preset release
cmake --build --preset release -j "$(nproc)" --target clustersim

clustersim=build/release/sim/clustersim
"$clustersim" model models/deepseek_v3.yaml
"$clustersim" validate experiments/dsv3_2048xh800_mpft.yaml experiments/dsv3_2048xh800_mrft.yaml
"$clustersim" memory experiments/dsv3_2048xh800_mpft.yaml
for network in ft2 mpft ft3 slimfly dragonfly; do
  "$clustersim" topo "topologies/$network.yaml"
done
