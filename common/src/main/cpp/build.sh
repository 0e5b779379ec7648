#!/usr/bin/env bash
# Builds Orthoslice's native kernels, liborthoslice_kernels.so, against the libtorch that DJL loads,
# and writes liborthoslice_kernels.json beside it (the torch version, the libtorch_cpu.so it was
# linked against, and whether it has the CUDA kernels), which the loader checks before it loads it.
#
#   common/src/main/cpp/build.sh [--torch DIR] [--jni-include DIR] [--out DIR] [--cuda auto|on|off]
#
#   --torch        libtorch's root (holding include/ and lib/): a pip wheel's torch/ directory or an
#                  unpacked libtorch archive. Default: the parent of $PYTORCH_LIBRARY_PATH when set (what
#                  DJL loads), else the torch of `python3 -c 'import torch'`.
#   --jni-include  a JDK's include/ (jni.h, linux/jni_md.h). Default: $JAVA_HOME/include, else the JDK of `javac`.
#   --out          where the library goes. Default: ~/.cache/orthoslice/kernels (where --kernels auto looks).
#   --cuda         auto (default): also compile the CUDA kernels (fused RoPE, RMSNorm with the residual add)
#                  when nvcc is found ($CUDACXX, PATH, $CUDA_HOME/bin, /usr/local/cuda/bin) and the libtorch
#                  has CUDA, and fall back to host code only if that build fails; on: insist; off: host only.
#
# Needs cmake >= 3.18 and a C++17 compiler; the CUDA kernels also need a CUDA toolkit (nvcc) of the
# libtorch's CUDA major version. Without them the library is host code over ATen and those two ops
# run on the ATen path. The last line says which this machine got.
# Then run with --kernels native (or auto), or point ORTHOSLICE_KERNELS_LIB at the library.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
torch="" jni="" out="${HOME}/.cache/orthoslice/kernels" cuda=auto
while [ $# -gt 0 ]; do
  case "$1" in
    --torch) torch=$2; shift 2 ;;
    --jni-include) jni=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --cuda) cuda=$2; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0" | cut -c3-; exit 0 ;;
    *) echo "build.sh: unknown argument '$1'; allowed: --torch DIR, --jni-include DIR, --out DIR, --cuda auto|on|off" >&2
      exit 2 ;;
  esac
done
case "$cuda" in auto|on|off) ;; *) echo "build.sh: --cuda '$cuda'; allowed: auto, on, off" >&2; exit 2 ;; esac
if [ -z "$torch" ]; then
  if [ -n "${PYTORCH_LIBRARY_PATH:-}" ]; then
    torch=$(dirname "$PYTORCH_LIBRARY_PATH")
  else
    torch=$(python3 -c 'import os, torch; print(os.path.dirname(torch.__file__))' 2>/dev/null) ||
      { echo "build.sh: no --torch given, PYTORCH_LIBRARY_PATH unset and python3 has no torch" >&2; exit 2; }
  fi
fi
[ -f "$torch/include/ATen/ATen.h" ] && [ -f "$torch/lib/libtorch_cpu.so" ] ||
  { echo "build.sh: $torch is not a libtorch root (needs include/ATen/ATen.h and lib/libtorch_cpu.so)" >&2; exit 2; }
if [ -z "$jni" ]; then
  if [ -n "${JAVA_HOME:-}" ]; then
    jni=$JAVA_HOME/include
  elif command -v javac >/dev/null; then
    jni=$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")/include
  fi
fi
[ -n "$jni" ] && [ -f "$jni/jni.h" ] ||
  { echo "build.sh: no jni.h (give --jni-include, a JDK's include directory, or set JAVA_HOME)" >&2; exit 2; }
torch=$(cd "$torch" && pwd) jni=$(cd "$jni" && pwd) # cmake resolves relative include paths elsewhere
# The C++ ABI torch was built with: the pip wheel says so; libtorch archives since 2.6 use the new one.
abi=$(python3 -c 'import torch; print(int(torch._C._GLIBCXX_USE_CXX11_ABI))' 2>/dev/null || echo 1)
version=$(sed -n 's/.*define TORCH_VERSION *"\(.*\)".*/\1/p' "$torch/include/torch/csrc/api/include/torch/version.h" 2>/dev/null | head -n1)
[ -n "$version" ] || version=$(sed -n 's/^__version__ *= *.\([^"'"'"']*\).*/\1/p' "$torch/version.py" 2>/dev/null | head -n1)

# The CUDA kernels: nvcc, and a libtorch with CUDA to link them against (its torch_cuda, c10_cuda).
nvcc="" why_not=""
if [ "$cuda" = off ]; then
  why_not="--cuda off"
elif [ ! -f "$torch/lib/libtorch_cuda.so" ] || [ ! -f "$torch/lib/libc10_cuda.so" ]; then
  why_not="this libtorch has no CUDA ($torch/lib/libtorch_cuda.so)"
else
  for c in "${CUDACXX:-}" "$(command -v nvcc || true)" "${CUDA_HOME:-/nonexistent}/bin/nvcc" /usr/local/cuda/bin/nvcc; do
    if [ -n "$c" ] && [ -x "$c" ]; then nvcc=$c; break; fi
  done
  [ -n "$nvcc" ] || why_not="no CUDA compiler (nvcc not on PATH, in \$CUDACXX, \$CUDA_HOME/bin or /usr/local/cuda/bin)"
fi
if [ "$cuda" = on ] && [ -z "$nvcc" ]; then
  echo "build.sh: --cuda on, but $why_not" >&2
  exit 2
fi

build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT
# configure_and_build DIR [cmake args...]: 0 when the library was built in DIR.
configure_and_build() {
  local dir=$1
  shift
  mkdir -p "$dir"
  cmake -S "$here" -B "$dir" -DCMAKE_BUILD_TYPE=Release -DTORCH_DIR="$torch" -DJNI_INCLUDE="$jni" \
    -DCXX11_ABI="$abi" "$@" >"$dir/configure.log" 2>&1 || { tail -n 30 "$dir/configure.log" >&2; return 1; }
  cmake --build "$dir" -- -j "$(nproc)" >"$dir/build.log" 2>&1 ||
    { grep -m 20 -A 6 'error' "$dir/build.log" >&2 || tail -n 40 "$dir/build.log" >&2; return 1; }
}
dir=$build/host
if [ -n "$nvcc" ]; then
  dir=$build/cuda
  if ! configure_and_build "$dir" -DORTHOSLICE_CUDA=ON -DCMAKE_CUDA_COMPILER="$nvcc"; then
    [ "$cuda" = auto ] || exit 1
    echo "build.sh: the CUDA kernels did not build with $nvcc (above); building the host code only" >&2
    why_not="their build failed with $nvcc"
    dir=$build/host
  fi
fi
if [ "$dir" = "$build/host" ]; then
  configure_and_build "$dir" -DORTHOSLICE_CUDA=OFF || exit 1
fi
built_cuda=false
if grep -q '^ORTHOSLICE_BUILT_CUDA:INTERNAL=ON$' "$dir/CMakeCache.txt"; then
  built_cuda=true
elif [ -n "$nvcc" ] && [ -z "$why_not" ]; then
  why_not="CMake did not take $nvcc as a CUDA compiler ($dir/configure.log)"
  [ "$cuda" = auto ] || { tail -n 30 "$dir/configure.log" >&2; exit 1; }
fi
mkdir -p "$out"
cp "$dir/liborthoslice_kernels.so" "$out/liborthoslice_kernels.so.tmp"
mv "$out/liborthoslice_kernels.so.tmp" "$out/liborthoslice_kernels.so"
lib=$(readlink -f "$torch/lib/libtorch_cpu.so")
api=$(sed -n 's/^#define ORTHOSLICE_KERNELS_API \([0-9]*\)$/\1/p' "$here/orthoslice_kernels.cpp")
cat >"$out/liborthoslice_kernels.json" <<JSON
{"kernels_api": ${api:?no ORTHOSLICE_KERNELS_API in orthoslice_kernels.cpp}, "torch_version": "${version:-unknown}", "libtorch_cpu": "$lib", "libtorch_cpu_bytes": $(stat -c %s "$lib"),
 "cuda_kernels": $built_cuda,
 "sources_sha256": "$(cat "$here"/*.cpp "$here"/*.cu "$here"/*.h "$here"/CMakeLists.txt | sha256sum | cut -c1-64)"}
JSON
echo "built $out/liborthoslice_kernels.so for torch ${version:-unknown} ($lib)"
if [ "$built_cuda" = true ]; then
  echo "CUDA kernels (rope, rmsnorm-residual): built by $nvcc ($("$nvcc" --version | sed -n 's/.*release \([0-9.]*\).*/\1/p'))"
else
  echo "CUDA kernels (rope, rmsnorm-residual): not built, $why_not; those ops take the ATen path"
fi
