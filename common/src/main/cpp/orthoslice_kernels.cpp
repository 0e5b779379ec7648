// Orthoslice's native kernels: fused ATen ops that DJL 0.35.1 does not expose, called on DJL's own
// tensor handles (a DJL PtNDArray handle is a heap-allocated torch::Tensor*, as in DJL's bridge), so
// results stay on libtorch's autograd tape and in DJL's memory management.
//
// Entry points (io.orthoslice.common.kernels.NativeKernels):
//   attention(q, k, v, scale)           causal scaled-dot-product attention (flash / memory-efficient
//                                       / math kernel, as ATen picks), differentiable
//   rmsNorm(x, gain, eps)               at::rms_norm over the last dimension, differentiable
//   adamw(w, g, m, v, step, ...)        one AdamW step in place through at::_fused_adamw_
//   adapterWeight(w, b, p, right, ...)  an adapter's effective weight W + alpha B P^T (or W + alpha P B)
//                                       in the compute dtype, as one addmm, differentiable
//   swiGlu(gate, up)                    SwiGLU's silu(gate) * up through at::silu, differentiable
//   bitSum(w)                           sum_i bits(w_i) (2i + 1) modulo 2^64 of a float32 tensor's raw
//                                       bits, on its device (WeightsChecksum's per-parameter term)
//   bitSums(ws)                         bitSum of each tensor, with one copy to the host for them all
//   sums(ws)                            each tensor's float32 sum (finite exactly when its values are,
//                                       short of overflow), with one copy to the host for them all
//   useSideStream(device, high)         makes the calling thread's work on CUDA device `device` run on a
//                                       stream of its own (one per device, priority and process), not the
//                                       default stream: a coordinator beside a training worker in one
//                                       process then runs its kernels beside the worker's
//   deterministic(on)                   torch's deterministic algorithms for the whole process (flash
//                                       attention's backward without atomics, cuDNN without
//                                       benchmarking, cuBLAS with a fixed workspace), or back to torch's
//                                       defaults
//   profileStart() / profileStop(path)  torch's Kineto profiler (host ops and GPU kernels) around
//                                       steps: a Chrome trace at path, and a per-name summary
//   rotary, addRmsNorm, cudaKernels     in fused_kernels.cpp: CUDA kernels of our own (RoPE; RMSNorm
//                                       with the residual add), when built with nvcc
//
// Errors become ai.djl.engine.EngineException with ATen's message (no C++ backtrace), as DJL's do
// (jni_tensors.h, shared with fused_kernels.cpp).

#include "jni_tensors.h"

// The entry points' contract; build.sh writes it into the manifest and the Java loader refuses a
// library whose number differs from its own (io.orthoslice.common.kernels.Kernels.API).
#define ORTHOSLICE_KERNELS_API 9

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>
#include <c10/core/impl/DeviceGuardImplInterface.h>

#include <torch/csrc/autograd/profiler_kineto.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

using orthoslice::jni::release;
using orthoslice::jni::tensor;

namespace {

// sum_i bits(w_i) (2i + 1) modulo 2^64 of a float32 tensor's raw bits, as a 0-d int64 tensor on its
// device. Integer arithmetic modulo 2^64: any reduction order gives the host's value. In chunks of 2^24
// values, so the int64 temporaries stay at 256 MiB whatever the parameter's size.
at::Tensor bitSumOnDevice(const at::Tensor& w) {
  const at::Tensor flat = w.detach().contiguous().view(-1);
  TORCH_CHECK(flat.scalar_type() == at::kFloat, "bitSum needs a float32 tensor, got ", flat.scalar_type());
  const at::Tensor bits = flat.view(at::kInt);
  const auto longs = bits.options().dtype(at::kLong);
  const int64_t n = bits.numel();
  constexpr int64_t chunk = int64_t{1} << 24;
  at::Tensor total = at::zeros({}, longs);
  for (int64_t start = 0; start < n; start += chunk) {
    const int64_t len = std::min(chunk, n - start);
    const at::Tensor odd = at::arange(2 * start + 1, 2 * (start + len), 2, longs);
    total.add_(bits.narrow(0, start, len).to(at::kLong).mul_(odd).sum());
  }
  return total;
}

// The handles of a Java long[] as tensors.
std::vector<at::Tensor> tensors(JNIEnv* env, jlongArray handles) {
  const jsize n = env->GetArrayLength(handles);
  std::vector<jlong> h(static_cast<size_t>(n));
  env->GetLongArrayRegion(handles, 0, n, h.data());
  std::vector<at::Tensor> out;
  out.reserve(h.size());
  for (jlong x : h) {
    out.push_back(tensor(x));
  }
  return out;
}

// f of every tensor (all on one device) as one stacked tensor on the host: the values stay on the device
// until one copy brings them all, so the caller waits for the device once, not once per tensor.
template <typename F>
at::Tensor eachOnHost(const std::vector<at::Tensor>& ws, F f) {
  std::vector<at::Tensor> values;
  values.reserve(ws.size());
  for (const at::Tensor& w : ws) {
    values.push_back(f(w));
  }
  return at::stack(values).to(at::kCPU).contiguous();
}

}  // namespace

extern "C" {

JNIEXPORT jlong JNICALL Java_io_orthoslice_common_kernels_NativeKernels_attention(
    JNIEnv* env, jclass, jlong q, jlong k, jlong v, jdouble scale) {
  ORTHOSLICE_JNI_BEGIN
  return release(at::scaled_dot_product_attention(tensor(q), tensor(k), tensor(v), std::nullopt, 0.0,
                                                  /*is_causal=*/true, scale));
  ORTHOSLICE_JNI_END(0)
}

JNIEXPORT jlong JNICALL Java_io_orthoslice_common_kernels_NativeKernels_rmsNorm(
    JNIEnv* env, jclass, jlong x, jlong gain, jdouble eps) {
  ORTHOSLICE_JNI_BEGIN
  const at::Tensor& in = tensor(x);
  return release(at::rms_norm(in, {in.size(-1)}, tensor(gain), eps));
  ORTHOSLICE_JNI_END(0)
}

// The adapter's effective weight in the compute dtype (fp16 when half, else fp32):
// right: W + alpha B P^T (B m x r, P n x r); left: W + alpha P B (P m x r, B r x n).
// The casts are on the tape (B's gradient comes back in its own dtype; W's too while it requires one)
// and freed here: addmm saves only the two factors for its backward, never W, so W's compute copy
// lives no longer than this call.
JNIEXPORT jlong JNICALL Java_io_orthoslice_common_kernels_NativeKernels_adapterWeight(
    JNIEnv* env, jclass, jlong w, jlong b, jlong p, jboolean right, jdouble alpha, jboolean half) {
  ORTHOSLICE_JNI_BEGIN
  const at::ScalarType type = half ? at::kHalf : at::kFloat;
  at::Tensor base = tensor(w).to(type);
  at::Tensor factor = tensor(b).to(type);
  at::Tensor projector = tensor(p).to(type);
  return release(right ? at::addmm(base, factor, projector.t(), 1.0, alpha)
                       : at::addmm(base, projector, factor, 1.0, alpha));
  ORTHOSLICE_JNI_END(0)
}

// SwiGLU's gated product silu(gate) * up. at::silu saves only its input for backward and is one kernel
// each way; DJL's x * sigmoid(x) keeps sigmoid(x) too (one more (B, T, ffn) tensor per block until
// backward) and runs three kernels forward and six backward where this runs two and three.
JNIEXPORT jlong JNICALL Java_io_orthoslice_common_kernels_NativeKernels_swiGlu(
    JNIEnv* env, jclass, jlong gate, jlong up) {
  ORTHOSLICE_JNI_BEGIN
  return release(at::silu(tensor(gate)).mul(tensor(up)));
  ORTHOSLICE_JNI_END(0)
}

// W <- W (1 - lr wd); m <- b1 m + (1 - b1) g'; v <- b2 v + (1 - b2) g'^2;
// W <- W - lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps), with g' = g * gradScale.
// t is the step count after this step (Adam's t, starting at 1).
JNIEXPORT void JNICALL Java_io_orthoslice_common_kernels_NativeKernels_adamw(
    JNIEnv* env, jclass, jlong w, jlong g, jlong m, jlong v, jlong t, jdouble lr, jdouble beta1,
    jdouble beta2, jdouble eps, jdouble weightDecay, jdouble gradScale) {
  ORTHOSLICE_JNI_BEGIN
  at::Tensor& weight = tensor(w);
  c10::AutoGradMode no_grad(false);  // an optimizer step is never on the tape
  auto on = at::TensorOptions().dtype(at::kFloat).device(weight.device());
  at::Tensor steps = at::scalar_tensor(static_cast<double>(t), on);
  // The fused kernel divides each gradient by grad_scale (AMP's convention).
  std::optional<at::Tensor> scale;
  if (gradScale != 1.0) {
    scale = at::scalar_tensor(1.0 / gradScale, on);
  }
  at::_fused_adamw_({weight}, {tensor(g)}, {tensor(m)}, {tensor(v)}, {}, {steps}, lr, beta1, beta2, weightDecay,
                    eps, /*amsgrad=*/false, /*maximize=*/false, scale, std::nullopt);
  ORTHOSLICE_JNI_END()
}

// One tensor's bitSum (bitSumOnDevice), brought to the host.
JNIEXPORT jlong JNICALL Java_io_orthoslice_common_kernels_NativeKernels_bitSum(JNIEnv* env, jclass, jlong w) {
  ORTHOSLICE_JNI_BEGIN
  at::NoGradGuard no_grad;
  return static_cast<jlong>(bitSumOnDevice(tensor(w)).item<int64_t>());
  ORTHOSLICE_JNI_END(0)
}

// bitSum of every tensor (all on one device): the terms stay there until one copy brings them all to the
// host, so a checksum of every parameter waits for the device once, not once per parameter.
JNIEXPORT jlongArray JNICALL Java_io_orthoslice_common_kernels_NativeKernels_bitSums(JNIEnv* env, jclass,
                                                                                     jlongArray handles) {
  ORTHOSLICE_JNI_BEGIN
  at::NoGradGuard no_grad;
  const std::vector<at::Tensor> ws = tensors(env, handles);
  const jsize n = static_cast<jsize>(ws.size());
  jlongArray out = env->NewLongArray(n);
  if (out == nullptr || n == 0) {
    return out;
  }
  const at::Tensor host = eachOnHost(ws, bitSumOnDevice);
  env->SetLongArrayRegion(out, 0, n, reinterpret_cast<const jlong*>(host.data_ptr<int64_t>()));
  return out;
  ORTHOSLICE_JNI_END(nullptr)
}

// The float32 sum of every tensor (all on one device), copied to the host at once.
JNIEXPORT jfloatArray JNICALL Java_io_orthoslice_common_kernels_NativeKernels_sums(JNIEnv* env, jclass,
                                                                                   jlongArray handles) {
  ORTHOSLICE_JNI_BEGIN
  at::NoGradGuard no_grad;
  const std::vector<at::Tensor> ws = tensors(env, handles);
  const jsize n = static_cast<jsize>(ws.size());
  jfloatArray out = env->NewFloatArray(n);
  if (out == nullptr || n == 0) {
    return out;
  }
  const at::Tensor host = eachOnHost(ws, [](const at::Tensor& w) { return w.detach().sum(at::kFloat); });
  env->SetFloatArrayRegion(out, 0, n, host.data_ptr<float>());
  return out;
  ORTHOSLICE_JNI_END(nullptr)
}

// Torch's deterministic algorithms for the whole process, the switch torch.use_deterministic_algorithms
// flips (strict: an op with no deterministic kernel throws instead of running one that is not). On a GPU a
// run is otherwise not reproducible: flash attention's backward adds dQ with atomics in whatever order its
// thread blocks finish. cuBLAS needs a fixed workspace for it; CUBLAS_WORKSPACE_CONFIG is read when a
// cuBLAS handle is made (the first GEMM) and checked by torch at each call, so this is set before any
// device work, and a value the user set is kept. Off restores torch's defaults.
JNIEXPORT void JNICALL Java_io_orthoslice_common_kernels_NativeKernels_deterministic(JNIEnv* env, jclass,
                                                                                     jboolean on) {
  ORTHOSLICE_JNI_BEGIN
  const bool strict = on == JNI_TRUE;
  if (strict) {
    setenv("CUBLAS_WORKSPACE_CONFIG", ":4096:8", /*overwrite=*/0);
    at::globalContext().setBenchmarkCuDNN(false);
  }
  at::globalContext().setDeterministicCuDNN(strict);
  at::globalContext().setDeterministicAlgorithms(strict, /*warn_only=*/false);
  ORTHOSLICE_JNI_END()
}

// Makes the calling thread's CUDA work on device `device` run on one stream of the process, of high or
// normal (the default stream's) priority (taken once per device and priority from torch's pool: non-blocking, so it never waits for the default stream's work
// and the default stream never waits for it). Host code only: CUDA's stream functions are reached through
// c10's device-guard registry, which libtorch's CUDA library fills when it loads; false (and nothing
// changed) where the process has no CUDA. The current stream is per thread: every thread of one owner
// (the coordinator) calls this before its first device work, so its work stays in one order.
JNIEXPORT jboolean JNICALL Java_io_orthoslice_common_kernels_NativeKernels_useSideStream(JNIEnv* env, jclass,
                                                                                         jint device,
                                                                                         jboolean high) {
  ORTHOSLICE_JNI_BEGIN
  if (!c10::impl::hasDeviceGuardImpl(c10::DeviceType::CUDA)) {
    return JNI_FALSE;
  }
  const c10::impl::DeviceGuardImplInterface* cuda = c10::impl::getDeviceGuardImpl(c10::DeviceType::CUDA);
  const c10::Device where(c10::DeviceType::CUDA, static_cast<c10::DeviceIndex>(device));
  static std::mutex guard;
  static std::map<std::pair<int, bool>, c10::Stream> streams;
  c10::Stream stream = [&] {
    std::lock_guard<std::mutex> lock(guard);
    const std::pair<int, bool> key(device, high == JNI_TRUE);
    auto it = streams.find(key);
    if (it == streams.end()) {
      it = streams.emplace(key, cuda->getStreamFromGlobalPool(where, /*isHighPriority=*/key.second)).first;
    }
    return it->second;
  }();
  cuda->exchangeStream(stream);
  return JNI_TRUE;
  ORTHOSLICE_JNI_END(JNI_FALSE)
}

// Starts torch's Kineto profiler on the calling thread (autograd's backward threads inherit it) for
// host-side ATen ops and, through CUPTI, every GPU kernel, copy and memset.
JNIEXPORT void JNICALL Java_io_orthoslice_common_kernels_NativeKernels_profileStart(JNIEnv* env, jclass) {
  ORTHOSLICE_JNI_BEGIN
  using torch::profiler::impl::ActivityType;
  torch::profiler::impl::ProfilerConfig config(torch::profiler::impl::ProfilerState::KINETO);
  std::set<ActivityType> activities{ActivityType::CPU, ActivityType::CUDA};
  torch::autograd::profiler::prepareProfiler(config, activities);
  torch::autograd::profiler::enableProfiler(config, activities);
  ORTHOSLICE_JNI_END()
}

// Stops the profiler; writes the Chrome trace to path (when not empty) and returns one line per
// (device, event name): "cpu|gpu<TAB>count<TAB>total microseconds<TAB>name", largest total first.
JNIEXPORT jstring JNICALL Java_io_orthoslice_common_kernels_NativeKernels_profileStop(
    JNIEnv* env, jclass, jstring path) {
  ORTHOSLICE_JNI_BEGIN
  std::unique_ptr<torch::autograd::profiler::ProfilerResult> result = torch::autograd::profiler::disableProfiler();
  const char* chars = env->GetStringUTFChars(path, nullptr);
  std::string file(chars == nullptr ? "" : chars);
  if (chars != nullptr) {
    env->ReleaseStringUTFChars(path, chars);
  }
  if (!file.empty()) {
    result->save(file);
  }
  std::map<std::pair<std::string, std::string>, std::pair<int64_t, uint64_t>> totals;  // count, ns
  for (const auto& e : result->events()) {
    std::string device = e.deviceType() == c10::DeviceType::CUDA ? "gpu" : "cpu";
    auto& t = totals[{device, e.name()}];
    t.first += 1;
    t.second += e.durationNs();
  }
  std::vector<std::pair<uint64_t, std::string>> rows;
  for (const auto& [key, t] : totals) {
    std::ostringstream line;
    line << key.first << '\t' << t.first << '\t' << (t.second / 1000) << '\t' << key.second << '\n';
    rows.emplace_back(t.second, line.str());
  }
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::string out;
  for (const auto& r : rows) {
    out += r.second;
  }
  return env->NewStringUTF(out.c_str());
  ORTHOSLICE_JNI_END(nullptr)
}

}  // extern "C"
