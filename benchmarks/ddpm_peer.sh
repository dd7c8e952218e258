#!/usr/bin/env bash
# Training step time of cudl's DDPM U-Net against the same U-Net in PyTorch
# (benchmarks/peers/unet.py), same shapes, same machine, one after the other,
# and the ratio. Both time whole steps: U-Net forward and backward, global-norm
# clipping, Adam and the EMA update (cudl's rate also includes drawing the batch
# from Fashion-MNIST, the peer's drawing random tensors of the same shapes).
#   benchmarks/ddpm_peer.sh [--device cpu|cuda] [cudl train ddpm shape flags...]
#   benchmarks/ddpm_peer.sh --width 16 --attention 0            # the 30-minute CPU model
#   benchmarks/ddpm_peer.sh --device cuda --width 64 --batch-size 128
# Shape flags: --width, --multipliers, --res-blocks, --attention, --batch-size
# (defaults as cudl train ddpm's). STEPS (40) steps are timed after WARMUP (5).
# On the CPU the peer runs THREADS (default: nproc) threads, as many as cudl.
set -euo pipefail
cd "$(dirname "$0")/.."
cudl=${CUDL:-build/cpu/cudl}
steps=${STEPS:-40}
warmup=${WARMUP:-5}
python=${PYTHON:-/usr/bin/python3}
[[ -x $cudl ]] || { echo "ddpm_peer.sh: no $cudl: build it first (cmake --build build/cpu --target cudl)" >&2; exit 1; }

device=cpu
width=32 multipliers=1,2,2 res_blocks=2 attention=16 batch=64
while (($#)); do
  [[ $# -ge 2 ]] || { echo "ddpm_peer.sh: $1 needs a value" >&2; exit 2; }
  case $1 in
    --device) device=$2 ;;
    --width) width=$2 ;;
    --multipliers) multipliers=$2 ;;
    --res-blocks) res_blocks=$2 ;;
    --attention) attention=$2 ;;
    --batch-size) batch=$2 ;;
    *) echo "ddpm_peer.sh: unknown flag $1 (see the comment at the top)" >&2; exit 2 ;;
  esac
  shift 2
done
shape=(--width "$width" --multipliers "$multipliers" --res-blocks "$res_blocks" --attention "$attention"
       --batch-size "$batch")

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# cudl: the warm-up steps first (a run of their own), then a run of warmup + steps;
# the timed rate is steps / (t(warmup + steps) - t(warmup)), from the wall clock of
# the two runs, so start-up and data loading cancel.
run_cudl() {  # iterations
  local start end
  start=$(date +%s.%N)
  "$cudl" train ddpm --device "$device" "${shape[@]}" --iters "$1" --sample-every 0 --save-every 100000000 \
    --out "$scratch/run-$1" >"$scratch/log-$1" 2>&1 || { cat "$scratch/log-$1" >&2; exit 1; }
  end=$(date +%s.%N)
  awk -v a="$start" -v b="$end" 'BEGIN { print b - a }' 
}
short=$(run_cudl "$warmup")
long=$(run_cudl $((warmup + steps)))
params=$(grep -o '[0-9]* parameters' "$scratch/log-$((warmup + steps))" | head -1 | cut -d' ' -f1)
calc() { awk "BEGIN { print $1 }"; }
cudl_rate=$(calc "$steps * $batch / ($long - $short)")
printf 'cudl unet: width %s multipliers %s batch %s: %.1f img/s, %.3f s/step, %s parameters (%s)\n' \
  "$width" "$multipliers" "$batch" "$cudl_rate" "$(calc "($long - $short) / $steps")" "$params" "$device"

peer_flags=(--width "$width" --multipliers "$multipliers" --res-blocks "$res_blocks" --attention "$attention"
            --batch-size "$batch" --steps "$steps" --warmup "$warmup" --device "$device")
# cudl's CPU backend runs one OpenMP thread per core; torch gets as many (its own
# default here can be 1: Debian's torch 1.13 asks OpenMP, which may answer 1).
[[ $device == cpu ]] && peer_flags+=(--threads "${THREADS:-$(nproc)}")
peer=$("$python" benchmarks/peers/unet.py "${peer_flags[@]}")
echo "$peer" | tail -1
peer_rate=$(echo "$peer" | tail -1 | grep -o '[0-9.]* img/s' | cut -d' ' -f1)
peer_params=$(echo "$peer" | tail -1 | grep -o '[0-9]* parameters' | cut -d' ' -f1)
[[ $peer_params == "$params" ]] || { echo "ddpm_peer.sh: the peer has $peer_params parameters, cudl $params: not the same network" >&2; exit 1; }
printf 'ratio: cudl / torch = %.2fx (img/s, higher is faster for cudl)\n' "$(calc "$cudl_rate / $peer_rate")"
