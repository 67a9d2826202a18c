#!/usr/bin/env bash
# Stages what the GPU machine needs and cannot download, in .gpu-carry/ (for `run`'s carry, with
# lib/): this machine's node binary (xz), a production-only node_modules (npm ci --omit=dev from
# the npm cache, as a tar.xz), and the Debian packages of the system libraries the addon builds
# with (libjpeg-turbo, libpng, zlib, Gloo's headers), which check.sh unpacks into a private root.
set -euo pipefail
cd "$(dirname "$0")/../.."
rm -rf .gpu-carry && mkdir -p .gpu-carry/debs .gpu-carry/work
cp package.json package-lock.json .gpu-carry/work/
(cd .gpu-carry/work && npm ci --omit=dev --ignore-scripts --offline --no-audit --no-fund >/dev/null)
tar -C .gpu-carry/work -cJf .gpu-carry/node_modules.tar.xz node_modules
rm -rf .gpu-carry/work
xz -T0 -6 -c "$(readlink -f "$(command -v node)")" > .gpu-carry/node.xz
(cd .gpu-carry/debs && apt-get download libjpeg62-turbo-dev libjpeg62-turbo libpng-dev libpng16-16 zlib1g-dev zlib1g libgloo-dev >/dev/null)
du -sh .gpu-carry/* | sed 's/^/stage: /'
