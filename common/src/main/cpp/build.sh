#!/usr/bin/env bash
# Builds Orthoslice's native kernels, liborthoslice_kernels.so, against the libtorch that DJL loads,
# and writes liborthoslice_kernels.json beside it (the torch version and the libtorch_cpu.so it was
# linked against), which the loader checks before it loads the library.
#
#   common/src/main/cpp/build.sh [--torch DIR] [--jni-include DIR] [--out DIR]
#
#   --torch        libtorch's root (holding include/ and lib/): a pip wheel's torch/ directory or an
#                  unpacked libtorch archive. Default: the parent of $PYTORCH_LIBRARY_PATH when set (what
#                  DJL loads), else the torch of `python3 -c 'import torch'`.
#   --jni-include  a JDK's include/ (jni.h, linux/jni_md.h). Default: $JAVA_HOME/include, else the JDK of `javac`.
#   --out          where the library goes. Default: ~/.cache/orthoslice/kernels (where --kernels auto looks).
#
# Needs cmake >= 3.18 and a C++17 compiler; no CUDA toolkit (the library is host code over ATen).
# Then run with --kernels native (or auto), or point ORTHOSLICE_KERNELS_LIB at the library.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
torch="" jni="" out="${HOME}/.cache/orthoslice/kernels"
while [ $# -gt 0 ]; do
  case "$1" in
    --torch) torch=$2; shift 2 ;;
    --jni-include) jni=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0" | cut -c3-; exit 0 ;;
    *) echo "build.sh: unknown argument '$1'; allowed: --torch DIR, --jni-include DIR, --out DIR" >&2; exit 2 ;;
  esac
done
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

build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT
cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Release -DTORCH_DIR="$torch" -DJNI_INCLUDE="$jni" \
  -DCXX11_ABI="$abi" >"$build/configure.log" 2>&1 || { tail -n 30 "$build/configure.log" >&2; exit 1; }
cmake --build "$build" -- -j "$(nproc)" >"$build/build.log" 2>&1 ||
  { grep -m 20 -A 6 'error' "$build/build.log" >&2 || tail -n 40 "$build/build.log" >&2; exit 1; }
mkdir -p "$out"
cp "$build/liborthoslice_kernels.so" "$out/liborthoslice_kernels.so.tmp"
mv "$out/liborthoslice_kernels.so.tmp" "$out/liborthoslice_kernels.so"
lib=$(readlink -f "$torch/lib/libtorch_cpu.so")
api=$(sed -n 's/^#define ORTHOSLICE_KERNELS_API \([0-9]*\)$/\1/p' "$here/orthoslice_kernels.cpp")
cat >"$out/liborthoslice_kernels.json" <<JSON
{"kernels_api": ${api:?no ORTHOSLICE_KERNELS_API in orthoslice_kernels.cpp}, "torch_version": "${version:-unknown}", "libtorch_cpu": "$lib", "libtorch_cpu_bytes": $(stat -c %s "$lib"),
 "sources_sha256": "$(cat "$here"/orthoslice_kernels.cpp "$here"/CMakeLists.txt | sha256sum | cut -c1-64)"}
JSON
echo "built $out/liborthoslice_kernels.so for torch ${version:-unknown} ($lib)"
