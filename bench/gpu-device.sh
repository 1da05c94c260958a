#!/usr/bin/env bash
# Runs the gpu.js kernel checks and the kernel benchmark on a machine with a real NVIDIA GPU
# (Linux x86-64, Node 20 and this repository with its node_modules carried in; no network).
# Prints the correctness results, one table of every kernel in every gpu.js mode, and the
# WebGPU check (bench/webgpu-device.ts).
#
#   bash bench/gpu-device.sh            # from the repository root
#
# headlessgl needs an X display: the script starts Xvfb when it is there and asks GLVND for
# the NVIDIA GLX vendor, so gpu.js renders on the GPU rather than in Mesa's software rasterizer.
set -uo pipefail
cd "$(dirname "$0")/.."

echo "== machine"
node --version
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo "nvidia-smi: not found"

if ! node -e "require('gl')" 2>/dev/null; then
  echo "note: the native 'gl' module is not built here: headlessgl will be reported unavailable"
fi
if command -v Xvfb >/dev/null 2>&1 && [ -z "${DISPLAY:-}" ]; then
  Xvfb :99 -screen 0 1280x1024x24 >/dev/null 2>&1 &
  XVFB_PID=$!
  export DISPLAY=:99
  trap 'kill $XVFB_PID 2>/dev/null' EXIT
  sleep 1
fi
export __GLX_VENDOR_LIBRARY_NAME=${__GLX_VENDOR_LIBRARY_NAME:-nvidia}

echo "== correctness: the shared kernel suite and a training step on every available gpu.js mode"
node node_modules/vitest/vitest.mjs run test/contract/gpu.test.ts --reporter=dot 2>&1 | tail -8

echo "== speed: every kernel in every mode beside the cpu kernels (ms, GFLOP/s, medians)"
node --import tsx bench/run.ts kernels

# WebGPU through Dawn needs the Vulkan loader (libvulkan1) and the driver's ICD file.
for f in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json; do
  [ -f "$f" ] && { export VK_DRIVER_FILES="${VK_DRIVER_FILES:-$f}"; break; }
done
echo "== webgpu: the same kernels through gpu.js's webgpu mode, checked against the cpu kernels"
node --import tsx bench/run.ts webgpu-device
