#!/usr/bin/env bash
# Builds DJL 0.35.1's PyTorch JNI bridge (libdjl_torch.so) against YOUR torch, for machines whose PyTorch is not
# DJL's libtorch 2.7.1 (a pip venv, a cluster module, an NGC image). Orthoslice then runs on that torch:
#
#   deploy/gpu/build-djl-bridge.sh <djl-git-dir> [<out-dir>]
#     <djl-git-dir>  a clone of https://github.com/deepjavalibrary/djl (tag v0.35.1 is used, unmodified)
#     <out-dir>      where libdjl_torch.so and orthoslice-torch.env go (default: ~/.cache/orthoslice/djl-bridge)
#   then: source <out-dir>/orthoslice-torch.env && ./orthoslice train --device gpu ...
#
# Needs: a JDK 17 (javac), cmake >= 3.18, a C++17 compiler, and the python3 whose torch to use
# (TORCH_PYTHON=/path/to/python3 to pick another). The bridge has no CUDA kernels of its own; it links torch's.
# See README.md beside this script.
set -euo pipefail
DJL_TAG=v0.35.1
djl=${1:?usage: build-djl-bridge.sh <djl-git-dir> [<out-dir>]}
out=${2:-${ORTHOSLICE_HOME:-$HOME/.cache/orthoslice}/djl-bridge}
py=${TORCH_PYTHON:-python3}
for tool in javac cmake git "$py"; do
  command -v "$tool" >/dev/null || { echo "build-djl-bridge: $tool not found" >&2; exit 2; }
done
git -C "$djl" rev-parse -q --verify "$DJL_TAG^{commit}" >/dev/null ||
  { echo "build-djl-bridge: $djl has no tag $DJL_TAG (git -C $djl fetch --tags)" >&2; exit 2; }
read -r torch_version torch_cmake torch_lib cuda < <("$py" -c '
import os, torch
print(torch.__version__, torch.utils.cmake_prefix_path, os.path.join(os.path.dirname(torch.__file__), "lib"),
      int(torch.version.cuda is not None))') || { echo "build-djl-bridge: $py cannot import torch" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
src=$work/src
native=$src/engines/pytorch/pytorch-native
mkdir -p "$src"
# DJL's own native sources at the tag, the JNI header javac makes from PyTorchLibrary.java, the JDK's jni.h.
git -C "$djl" archive "$DJL_TAG" engines/pytorch/pytorch-native api/src/main/native \
  engines/pytorch/pytorch-engine/src/main/java/ai/djl/pytorch/jni/PyTorchLibrary.java | tar -x -C "$src"
javac -h "$native/build/include" -d "$work/classes" \
  "$src/engines/pytorch/pytorch-engine/src/main/java/ai/djl/pytorch/jni/PyTorchLibrary.java"
jdk=$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")
echo "building the DJL $DJL_TAG bridge for torch $torch_version (cuda=$cuda) ..."
export TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-9.0} # no kernels of its own: skips arch detection
cmake -S "$native" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$torch_cmake" -DUSE_CUDA="$cuda" \
  -DJAVA_INCLUDE_PATH="$jdk/include" -DJAVA_INCLUDE_PATH2="$jdk/include/linux" -DJAVA_JVM_LIBRARY=NotNeeded \
  -DJAVA_AWT_LIBRARY=NotNeeded -DJAVA_AWT_INCLUDE_PATH=NotNeeded >"$work/configure.log" 2>&1 ||
  { tail -n 40 "$work/configure.log" >&2; exit 1; }
cmake --build "$work/build" -- -j "$(nproc)" >"$work/build.log" 2>&1 || { grep -m 20 -B 2 -A 8 error "$work/build.log" >&2; exit 1; }
if [ "$cuda" = 1 ]; then
  # As DJL's build.sh: relink without the system CUDA's cudart/nvrtc, so torch's own are used.
  (cd "$work/build" && sed -i -r "s/\/usr\/local\/cuda(.{5})?\/lib64\/lib(cudart|nvrtc).so//g" CMakeFiles/djl_torch.dir/link.txt &&
    rm libdjl_torch.so && ORIGIN='$ORIGIN' && . CMakeFiles/djl_torch.dir/link.txt)
fi
mkdir -p "$out/cache/pytorch/2.7.1-$([ "$cuda" = 1 ] && echo cu128 || echo cpu)-linux-x86_64"
cp "$work/build/libdjl_torch.so" "$out/libdjl_torch.so"
# DJL looks for its bridge under the version it was told, in its cache, before it would download one.
cp "$out/libdjl_torch.so" "$out/cache/pytorch/2.7.1-$([ "$cuda" = 1 ] && echo cu128 || echo cpu)-linux-x86_64/0.35.1-libdjl_torch.so"
rt=$(ls "$torch_lib"/../../nvidia/*/lib/libcudart.so.* 2>/dev/null | head -n 1 || true)
if [ -n "$rt" ]; then
  mkdir -p "$out/cudart" && ln -sf "$rt" "$out/cudart/libcudart.so" # DJL opens the unversioned name through JNA
fi
cat >"$out/orthoslice-torch.env" <<ENV
# Made by deploy/gpu/build-djl-bridge.sh for torch $torch_version; source it before ./orthoslice.
export PYTORCH_LIBRARY_PATH=$torch_lib PYTORCH_VERSION=2.7.1 PYTORCH_FLAVOR=$([ "$cuda" = 1 ] && echo cu128 || echo cpu)
export DJL_CACHE_DIR=$out/cache ENGINE_CACHE_DIR=$out/cache DJL_OFFLINE=true
export PYTORCH_LIBRARY_EXCLUSION=$(ls "$torch_lib" | { grep -E 'test|backend_with_compiler|aoti_custom|python' || true; } | paste -sd, -)
export LD_LIBRARY_PATH=$out/cudart:$torch_lib\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}
ENV
echo "built $out/libdjl_torch.so for torch $torch_version; now: source $out/orthoslice-torch.env"
