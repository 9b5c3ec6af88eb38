#!/usr/bin/env bash
# Installs the Debian 12 packages Fovea needs to build, run and test (run as root or with sudo).
# Vulkan comes from Mesa: lavapipe runs the GPU path on the CPU where no GPU driver exists.
# Pass --torch to also install what tools/ (fixture and model training scripts) and tests/bench need.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
packages=(
  build-essential cmake pkg-config
  glslang-tools spirv-tools
  libvulkan-dev libvulkan-volk-dev mesa-vulkan-drivers vulkan-validationlayers vulkan-tools
  libopenblas-dev libcjson-dev libpng-dev zlib1g-dev libjpeg62-turbo-dev
  libavformat-dev libavcodec-dev libavutil-dev libswscale-dev
  jq python3  # the CLI tests parse JSON and SVG outputs
)
if [ "${1:-}" = "--torch" ]; then
  packages+=(python3 python3-torch python3-torchvision python3-pil python3-numpy libopenblas0-pthread
             dataset-fashion-mnist)
fi
apt-get update -q
apt-get install -y -q --no-install-recommends "${packages[@]}"
