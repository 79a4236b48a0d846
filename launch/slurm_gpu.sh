#!/usr/bin/env bash
# One task per GPU host; jax.distributed.initialize() reads the SLURM environment, and
# the coordinator is the first host of the allocation on $PORT.
#   sbatch --nodes=2 --gpus-per-node=8 launch/slurm_gpu.sh \
#     train --config=w2v2jax/configs/ctc.py:base --workdir=/shared/runs/base \
#     --config.data_dir=/shared/data/libri --config.mesh.fsdp=8
#SBATCH --job-name=w2v2jax
#SBATCH --ntasks-per-node=1
#SBATCH --exclusive
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
head=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)
port="${PORT:-12355}"
args=$(printf ' %q' "$@")
srun --ntasks-per-node=1 bash -c "EXTRAS=cuda $root/launch/run.sh$args \
  --coordinator_address=$head:$port --num_processes=\$SLURM_NTASKS --process_id=\$SLURM_PROCID"
