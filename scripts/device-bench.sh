#!/usr/bin/env bash
# bash scripts/device-bench.sh [--tiny] [--shapes a,b] [--steps N] [--budget SECONDS] [--activations f16|f32] [--no-kernels]
# Runs the device benchmark that `npm run bench:device` prepared (dist-device/ and .gpu/, both carried): on the
# accelerator machine it unpacks node, dawn.node and the GL/Vulkan loaders as ../shared/DEVICE.md says and runs
# on the NVIDIA GPU. DEVICE_BENCH_LOCAL=1 uses this machine's node and dawn.node on SwiftShader instead.
set -euo pipefail
cd "$(dirname "$0")/.."
bundle=dist-device/bench-device.mjs
dawn_dir=dist-device/node_modules/webgpu/dist/linux-x64
[[ -f $bundle ]] || { echo "no $bundle: run npm run bench:device first (and carry dist-device)" >&2; exit 2; }
mkdir -p "$dawn_dir"
args=()
if [[ ${DEVICE_BENCH_LOCAL:-} == 1 ]]; then
  node=${DEVICE_BENCH_NODE:-$(command -v node)}
  ln -sf "$(readlink -f "${DEVICE_BENCH_DAWN:-node_modules/webgpu/dist/linux-x64/dawn.node}")" "$dawn_dir/dawn.node"
  swiftshader=${SWIFTSHADER_DIR:-/usr/lib/chromium}
  export VK_ICD_FILENAMES=${VK_ICD_FILENAMES:-$swiftshader/vk_swiftshader_icd.json}
  export LD_LIBRARY_PATH=$swiftshader${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
else
  [[ -f .gpu/node.xz && -f .gpu/dawn.node.xz ]] || { echo "no .gpu/node.xz or .gpu/dawn.node.xz: run npm run bench:device and carry .gpu" >&2; exit 2; }
  shopt -s nullglob
  debs=(.gpu/gl/*.deb)
  for f in "${debs[@]}"; do dpkg -x "$f" /; done
  if ((${#debs[@]})); then ldconfig; else echo "no loader .debs in .gpu/gl: using the machine's own libvulkan, if any"; fi
  node=/tmp/node
  xz -d -c .gpu/node.xz > "$node" && chmod +x "$node"
  xz -d -c .gpu/dawn.node.xz > "$dawn_dir/dawn.node"
  export XDG_RUNTIME_DIR=/tmp VK_DRIVER_FILES=${VK_DRIVER_FILES:-/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json} MANYICL_GPU=real
  # WebGPU does not say how much memory the GPU has; the driver does, and the plan is checked against it.
  if mib=$(nvidia-smi --query-gpu=memory.total --format=csv,noheader,nounits 2>/dev/null | head -1) && [[ $mib =~ ^[0-9]+$ ]]; then
    args+=(--memory-mib "$mib")
  fi
fi
exec "$node" "$bundle" ${args[@]+"${args[@]}"} "$@"
