#!/usr/bin/env bash
# Fovea's CPU executor against Debian's PyTorch on the same machine, in the same invocation:
# ViT latency per image for each architecture, and the ratio Fovea / PyTorch (lower is better).
# Also reports Fovea's GEMM GFLOP/s on the same shapes, on the CPU executor and on Vulkan device
# 0 (lavapipe on a machine without a GPU). Needs `tools/deps.sh --torch` and a build in build/.
# Usage: tests/bench/cpu_vs_torch.sh [ARCH ...]   (default: vit_small_patch16_224 vit_base_patch16_224)
set -euo pipefail
cd "$(dirname "$0")/../.."
fovea=${FOVEA_BIN:-build/fovea}
iters=${ITERS:-5}
archs=("$@")
[ ${#archs[@]} -gt 0 ] || archs=(vit_small_patch16_224 vit_base_patch16_224)
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
for arch in "${archs[@]}"; do
  torch_json=$(/usr/bin/python3 tests/bench/torch_vit.py --arch "$arch" --iters "$iters")
  cpu_json=$("$fovea" bench vit --arch "$arch" --device cpu --iters "$iters" --json)
  vk_json=$("$fovea" bench vit --arch "$arch" --device 0 --iters 1 --json 2>/dev/null || echo '{}')
  /usr/bin/python3 - "$torch_json" "$cpu_json" "$vk_json" <<'PY'
import json, sys
t, c, v = (json.loads(s) for s in sys.argv[1:4])
print(f"{c['arch']}:")
print(f"  PyTorch ({t['engine']}, {t['threads']} threads): {t['latency_ms_per_image']:9.1f} ms/image")
print(f"  Fovea --device cpu:                  {c['latency_ms_per_image']:9.1f} ms/image"
      f"   ratio Fovea/PyTorch = {c['latency_ms_per_image'] / t['latency_ms_per_image']:.2f}")
print(f"  Fovea CPU executor GEMM:             {c['gemm_gflops']:9.1f} GFLOP/s")
if v:
    print(f"  Fovea Vulkan ({v['device']}): {v['latency_ms_per_image']:9.1f} ms/image, GEMM {v['gemm_gflops']:.1f} GFLOP/s")
PY
done
