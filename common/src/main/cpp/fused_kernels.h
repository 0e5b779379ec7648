// Orthoslice's own CUDA kernels (fused_kernels.cu), called by the autograd functions in
// fused_kernels.cpp. Compiled only where CMake found a CUDA compiler and the libtorch has CUDA
// (ORTHOSLICE_WITH_CUDA); without it the entry points refuse and the Java side keeps the ATen path.
#pragma once

#include <ATen/ATen.h>

#include <utility>

namespace orthoslice {

// Rotary embedding in Hugging Face's rotate-half layout over q (B, nh, T, hd) and k (B, nkv, T, hd)
// in one launch, with cos and sin (T, hd) tables:
//   out = x * cos + rotate_half(x) * sin,  rotate_half(x) = concat(-x[hd/2:], x[:hd/2]),
// or, with transpose, the transpose of that linear map (the backward: rotation by the negative
// angle when the tables are HF's, whose two halves are equal). Either of q, k may be undefined (its
// result is then undefined). Results have their input's strides when those are dense.
std::pair<at::Tensor, at::Tensor> rotaryCuda(const at::Tensor& q, const at::Tensor& k, const at::Tensor& cos,
                                             const at::Tensor& sin, bool transpose);

// RMSNorm fused with the residual add, over the last dimension (n) of x and residual (same shape):
//   sum = x + residual (rounded to x's dtype, as the separate add would),
//   out = sum / sqrt(mean(sum^2) + eps) * gain, statistics in fp32 (fp64 for double).
struct AddRmsNormForward {
  at::Tensor out;
  at::Tensor sum;
  at::Tensor inv;  // (rows) 1 / sqrt(mean(sum^2) + eps), fp32 (fp64 for double): for the backward
};
AddRmsNormForward addRmsNormCuda(const at::Tensor& x, const at::Tensor& residual, const at::Tensor& gain,
                                 double eps);

// The backward of addRmsNormCuda given the gradients of out (gradOut) and of sum (gradSum); either
// may be undefined (zero). Returns the gradient of x (which is also the residual's) and of gain
// (in gain's dtype; undefined when gradOut is).
std::pair<at::Tensor, at::Tensor> addRmsNormBackwardCuda(const at::Tensor& gradOut, const at::Tensor& gradSum,
                                                         const at::Tensor& sum, const at::Tensor& gain,
                                                         const at::Tensor& inv);

}  // namespace orthoslice
