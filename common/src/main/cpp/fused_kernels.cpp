// The entry points of Orthoslice's own CUDA kernels (fused_kernels.cu) on DJL's tensor handles, each
// a torch::autograd::Function whose forward and backward launch our kernels, so the results stay on
// libtorch's autograd tape like any ATen op's:
//
//   rotary(q, k, cos, sin)                 RoPE (Hugging Face's rotate_half) over q and k in one launch;
//                                          backward: the transposed rotation, in one launch
//   addRmsNorm(x, residual, gain, eps)     rmsnorm(x + residual) * gain and x + residual in one pass;
//                                          backward in one pass plus the gain's column sum
//   cudaKernels()                          whether this library was built with them (CMake found a
//                                          CUDA compiler and the libtorch has CUDA); without them the
//                                          two above raise and the Java side keeps the ATen path
//
// Always compiled, so a host-only build keeps every symbol the Java side binds.

#include "fused_kernels.h"
#include "jni_tensors.h"

#include <torch/csrc/autograd/custom_function.h>

#include <stdexcept>

namespace orthoslice {

#ifndef ORTHOSLICE_WITH_CUDA
namespace {
constexpr const char* kNoCuda =
    "liborthoslice_kernels.so was built without its CUDA kernels (no CUDA compiler, or a libtorch without CUDA)";
}

std::pair<at::Tensor, at::Tensor> rotaryCuda(const at::Tensor&, const at::Tensor&, const at::Tensor&,
                                             const at::Tensor&, bool) {
  throw std::runtime_error(kNoCuda);
}

AddRmsNormForward addRmsNormCuda(const at::Tensor&, const at::Tensor&, const at::Tensor&, double) {
  throw std::runtime_error(kNoCuda);
}

std::pair<at::Tensor, at::Tensor> addRmsNormBackwardCuda(const at::Tensor&, const at::Tensor&, const at::Tensor&,
                                                         const at::Tensor&, const at::Tensor&) {
  throw std::runtime_error(kNoCuda);
}
#endif

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// q' = rope(q), k' = rope(k). The tables are constants: saved for the backward, given no gradient.
// Unused outputs' gradients arrive undefined (not materialised as zeros) and give undefined ones.
class Rotary : public torch::autograd::Function<Rotary> {
 public:
  static variable_list forward(AutogradContext* ctx, const at::Tensor& q, const at::Tensor& k, const at::Tensor& cos,
                               const at::Tensor& sin) {
    ctx->set_materialize_grads(false);
    ctx->save_for_backward({cos, sin});
    auto [qOut, kOut] = rotaryCuda(q, k, cos, sin, /*transpose=*/false);
    return {qOut, kOut};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const variable_list tables = ctx->get_saved_variables();
    auto [dq, dk] = rotaryCuda(grads[0], grads[1], tables[0], tables[1], /*transpose=*/true);
    return {dq, dk, at::Tensor(), at::Tensor()};
  }
};

// (out, sum) = (rmsnorm(x + residual) * gain, x + residual). Saves the sum (an output, so no
// reference cycle), the gain and the per-row 1/rms; x and the residual get one gradient, the sum's.
class AddRmsNorm : public torch::autograd::Function<AddRmsNorm> {
 public:
  static variable_list forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& residual,
                               const at::Tensor& gain, double eps) {
    ctx->set_materialize_grads(false);
    AddRmsNormForward f = addRmsNormCuda(x, residual, gain, eps);
    ctx->save_for_backward({f.sum, gain, f.inv});
    return {f.out, f.sum};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const variable_list saved = ctx->get_saved_variables();
    if (!grads[0].defined() && !grads[1].defined()) {
      return {at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
    }
    auto [dx, dgain] = addRmsNormBackwardCuda(grads[0], grads[1], saved[0], saved[1], saved[2]);
    return {dx, dx, dgain, at::Tensor()};
  }
};

}  // namespace
}  // namespace orthoslice

using orthoslice::jni::tensor;

extern "C" {

// (q', k') for q (B, nh, T, hd), k (B, nkv, T, hd) and the tables (T, hd), cast to q's dtype on the
// tape (a no-op for the model's tables, made in the compute dtype).
JNIEXPORT jlongArray JNICALL Java_io_orthoslice_common_kernels_NativeKernels_rotary(
    JNIEnv* env, jclass, jlong q, jlong k, jlong cos, jlong sin) {
  ORTHOSLICE_JNI_BEGIN
  const at::Tensor& query = tensor(q);
  const at::ScalarType type = query.scalar_type();
  torch::autograd::variable_list out = orthoslice::Rotary::apply(query, tensor(k), tensor(cos).to(type), tensor(sin).to(type));
  return orthoslice::jni::releaseAll(env, {out[0], out[1]});
  ORTHOSLICE_JNI_END(nullptr)
}

// (out, sum) for x and residual of one shape (..., n) and gain (n), cast to x's dtype on the tape
// (its gradient reaches the master copy through the cast, as with the separate ops).
JNIEXPORT jlongArray JNICALL Java_io_orthoslice_common_kernels_NativeKernels_addRmsNorm(
    JNIEnv* env, jclass, jlong x, jlong residual, jlong gain, jdouble eps) {
  ORTHOSLICE_JNI_BEGIN
  const at::Tensor& in = tensor(x);
  torch::autograd::variable_list out = orthoslice::AddRmsNorm::apply(in, tensor(residual), tensor(gain).to(in.scalar_type()),
                                                    static_cast<double>(eps));
  return orthoslice::jni::releaseAll(env, {out[0], out[1]});
  ORTHOSLICE_JNI_END(nullptr)
}

JNIEXPORT jboolean JNICALL Java_io_orthoslice_common_kernels_NativeKernels_cudaKernels(JNIEnv*, jclass) {
#ifdef ORTHOSLICE_WITH_CUDA
  return JNI_TRUE;
#else
  return JNI_FALSE;
#endif
}

}  // extern "C"
