#!/usr/bin/env bash
# Create a TPU VM slice, set it up, run one training command on every worker, delete it.
#   NAME=w2v2-v4 ZONE=us-central2-b TYPE=v4-32 launch/tpu_pod.sh \
#     train --config=w2v2jax/configs/ctc.py:base --workdir=gs://BUCKET/runs/base \
#     --config.data_dir=gs://BUCKET/data/libri --config.mesh.fsdp=4
# Every worker runs the same command; jax.distributed.initialize() finds the coordinator
# from the TPU metadata, each process reads its share of the data and orbax writes from all.
# KEEP=1 leaves the slice up afterwards.
set -euo pipefail
: "${NAME:?set NAME}" "${ZONE:?set ZONE}" "${TYPE:=v4-32}" "${VERSION:=tpu-ubuntu2204-base}"
repo="${REPO:-https://github.com/w2v2jax/w2v2jax.git}"
gcloud compute tpus tpu-vm create "$NAME" --zone="$ZONE" --accelerator-type="$TYPE" \
  --version="$VERSION"
cleanup() { [ "${KEEP:-0}" = 1 ] || gcloud compute tpus tpu-vm delete "$NAME" --zone="$ZONE" --quiet; }
trap cleanup EXIT
gcloud compute tpus tpu-vm ssh "$NAME" --zone="$ZONE" --worker=all --command="
  set -e; [ -d w2v2jax ] || git clone -q $repo w2v2jax
  cd w2v2jax && EXTRAS=tpu launch/run.sh --help >/dev/null 2>&1 || true"
args=$(printf ' %q' "$@")
gcloud compute tpus tpu-vm ssh "$NAME" --zone="$ZONE" --worker=all \
  --command="cd w2v2jax && EXTRAS=tpu launch/run.sh$args"
