#!/usr/bin/env bash
# Wall time and peak RSS of the simulator against the number of GPUs, for the cases of README's
# "Simulation at scale": a 1 MiB ring all-reduce, a 1 MiB all-to-all over a three-level fat-tree
# (exact, with a departure batching of 0.05 and of 0.5, and timed by its congestion bound), one EP
# group of all the GPUs (dispatch + combine, batched 0.05) and the DeepSeek-V3 step (one group of
# each kind, and every replica). Each point is one run of the CLI under /usr/bin/time.
#
# Writes OUT/scaling.csv (case, GPUs, wall time, peak RSS) and the log-log charts
# OUT/scaling_wall.svg and OUT/scaling_rss.svg (OUT: build/scaling, or the first argument).
# About 8 minutes on a 2-core machine, most of it the largest all-to-alls; peak memory about
# 7 GB (the 4,096-GPU all-to-all). Run after building: cmake --build --preset release
set -euo pipefail
cd "$(dirname "$0")/.."

out=${1:-build/scaling}
clustersim=build/release/sim/clustersim
mkdir -p "$out"
csv=$out/scaling.csv
echo "case,GPUs,wall time (s),peak RSS (MB)" > "$csv"

# point CASE GPUS ARGS...: runs clustersim ARGS, appends a row.
point() {
  local name=$1 gpus=$2
  shift 2
  local timing start end wall rss_kb
  timing=$(mktemp)
  # Wall time from the clock in nanoseconds (time's %e has 10 ms steps, and a log axis cannot
  # show 0); peak RSS from time's %M.
  start=$(date +%s%N)
  /usr/bin/time -f "%M" -o "$timing" "$clustersim" "$@" > /dev/null
  end=$(date +%s%N)
  rss_kb=$(tail -n 1 "$timing")
  rm -f "$timing"
  wall=$(awk -v ns=$((end - start)) 'BEGIN { printf "%.3f", ns / 1e9 }')
  echo "$name,$gpus,$wall,$((rss_kb / 1024))" >> "$csv"
  printf '%-36s %6d GPUs  %8.3f s  %6d MB\n' "$name" "$gpus" "$wall" $((rss_kb / 1024))
}

for gpus in 1024 4096 16384 65536; do
  point "ring all-reduce" "$gpus" collective --op all_reduce --size "1 MiB" --topology ft3 \
    --nodes $((gpus / 8))
done
for gpus in 64 128 256 512; do
  point "all-to-all (exact)" "$gpus" collective --op all_to_all --size "1 MiB" --topology ft3 \
    --nodes $((gpus / 8))
done
for gpus in 256 512 1024 2048; do
  point "all-to-all (batching 0.05)" "$gpus" collective --op all_to_all --size "1 MiB" \
    --topology ft3 --nodes $((gpus / 8)) --departure-batching 0.05
done
for gpus in 256 512 1024 2048 4096; do
  point "all-to-all (batching 0.5)" "$gpus" collective --op all_to_all --size "1 MiB" \
    --topology ft3 --nodes $((gpus / 8)) --departure-batching 0.5
done
for gpus in 1024 2048 4096 8192; do
  point "all-to-all (congestion bound)" "$gpus" collective --op all_to_all --size "1 MiB" \
    --topology ft3 --nodes $((gpus / 8)) --congestion-bound
done
for gpus in 256 512 2048; do
  point "one EP group (batching 0.05)" "$gpus" collective --op ep --nodes $((gpus / 8)) \
    --experts "$gpus" --departure-batching 0.05
done
# The DeepSeek-V3 reproduction with more nodes and the global batch grown with them (15,360
# sequences per 2,048 GPUs); 131,072 GPUs on a fat-tree of 128-port switches, priced by a cost
# profile that sells them.
step=experiments/dsv3_2048xh800_mpft.yaml
for gpus in 2048 16384; do
  point "DeepSeek-V3 step" "$gpus" run "$step" --set cluster.nodes=$((gpus / 8)) \
    --set training.global_batch_size=$((15360 * gpus / 2048))
  point "DeepSeek-V3 step (every replica)" "$gpus" run "$step" --set cluster.nodes=$((gpus / 8)) \
    --set training.global_batch_size=$((15360 * gpus / 2048)) --set simulation.symmetry=off
done
point "DeepSeek-V3 step" 131072 run "$step" --set cluster.nodes=16384 \
  --set training.global_batch_size=983040 --set cluster.topology=ft3 \
  --set cluster.topology.switch_radix=128 --cost ib_ndr_64port

# ASTRA-sim 2.x's published figures for a congestion-aware 1 MiB ring all-reduce on a 2-core
# machine of the same kind (see README), for comparison; not measured here.
{
  echo "ASTRA-sim 2.x all-reduce (1-D ring),1024,30,365"
  echo "ASTRA-sim 2.x all-reduce (1-D ring),4096,859,5734"
  echo "ASTRA-sim 2.x all-reduce (2-D switch),16384,113,11571"
} >> "$csv"

"$clustersim" plot "$csv" --x GPUs --y "wall time (s)" --series case --log-x --log-y \
  --out "$out/scaling_wall.svg"
"$clustersim" plot "$csv" --x GPUs --y "peak RSS (MB)" --series case --log-x --log-y \
  --out "$out/scaling_rss.svg"
echo "wrote $csv, $out/scaling_wall.svg and $out/scaling_rss.svg"
