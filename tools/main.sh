#!/usr/bin/env bash
# Sets up (installs missing Debian packages), builds clustersim, and runs the main job: one
# simulated DeepSeek-V3 pre-training step on 2048 H800 GPUs over the multi-plane fat-tree and over
# the multi-rail fat-tree (ISCA'25 Table 4), each printed beside the published figures; then the
# model card's counts and the networks of ISCA'25 Table 3, each sized for its endpoint count.
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
# Each network sized for its Table 3 endpoint count (Slim Fly: the smallest buildable q, 29, as
# Table 3's q = 28 is not a prime).
for network in ft2:2048 mpft:16384 ft3:65536 slimfly:32928 dragonfly:261632; do
  "$clustersim" topo "${network%%:*}" --endpoints "${network##*:}"
done
