#!/usr/bin/env bash
# Sets up (installs missing Debian packages), builds clustersim, and runs the main job: one
# simulated DeepSeek-V3 pre-training step on 2048 H800 GPUs over the multi-plane fat-tree and over
# the multi-rail fat-tree (ISCA'25 Table 4), each printed beside the published figures; then the
# model card's counts and the networks of ISCA'25 Table 3.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/install-deps.sh
cmake --preset release
cmake --build --preset release -j "$(nproc)" --target clustersim

clustersim=build/release/sim/clustersim
"$clustersim" run experiments/dsv3_2048xh800_mpft.yaml --trace build/dsv3_2048xh800_mpft.trace.json
echo
"$clustersim" run experiments/dsv3_2048xh800_mrft.yaml
echo
"$clustersim" model models/deepseek_v3.yaml
for network in ft2 mpft ft3 slimfly dragonfly; do
  "$clustersim" topo "topologies/$network.yaml"
done
