#!/usr/bin/env bash
# Stages what the GPU machine needs and cannot download: a production-only node_modules
# (npm ci --omit=dev into .gpu-carry/, from the npm cache this machine filled), for `run`'s carry.
set -euo pipefail
cd "$(dirname "$0")/../.."
rm -rf .gpu-carry && mkdir -p .gpu-carry
cp package.json package-lock.json .gpu-carry/
(cd .gpu-carry && npm ci --omit=dev --ignore-scripts --offline --no-audit --no-fund >/dev/null)
du -sh .gpu-carry/node_modules
