// Orthoslice's own CUDA kernels, where ATen has no fused op (declared in fused_kernels.h):
//   rotary          RoPE over q and k in one launch, forward and (transposed) backward;
//   addRmsNorm      out = rmsnorm(x + residual) * gain and the new residual x + residual, one pass
//                   each way.
// Launched on torch's current stream of the tensors' device, so they order with ATen's kernels and
// the caching allocator. Only c10's CUDA headers are used (no ATen/cuda/CUDAContext.h, which pulls
// in cuBLAS and cuSOLVER headers a bare toolkit may not have).
//
// Memory-bound, so each thread moves 16 bytes per load (a Pack of 16 / sizeof(scalar_t) values)
// wherever the shapes, strides and addresses allow it, and one value at a time otherwise.

#include "fused_kernels.h"
#include "fused_kernels.cuh"

#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include <algorithm>
#include <cstdint>

namespace orthoslice {
namespace {

using kernels::addRmsNormBackwardKernel;
using kernels::addRmsNormKernel;
using kernels::RotaryOperand;
using kernels::rotaryKernel;

constexpr int kRotaryThreads = 256;

// Values per 16-byte pack: 8 for fp16 and bf16, 4 for fp32, 2 for fp64.
template <typename scalar_t>
constexpr int packOf() {
  return static_cast<int>(16 / sizeof(scalar_t));
}

// Whether t (undefined counts as yes) can be read in packs of V along its last dimension: its address
// and its other strides are multiples of V values. The last dimension's length is checked by the caller.
bool packable(const at::Tensor& t, int V) {
  if (!t.defined() || V == 1) {
    return true;
  }
  if (reinterpret_cast<uintptr_t>(t.data_ptr()) % (static_cast<uintptr_t>(V) * t.element_size()) != 0) {
    return false;
  }
  for (int64_t d = 0; d + 1 < t.dim(); ++d) {
    if (t.stride(d) % V != 0) {
      return false;
    }
  }
  return true;
}

// One past the largest element offset t reaches (0 for an undefined or empty tensor).
int64_t extent(const at::Tensor& t) {
  if (!t.defined() || t.numel() == 0) {
    return 0;
  }
  int64_t last = 0;
  for (int64_t d = 0; d < t.dim(); ++d) {
    last += (t.size(d) - 1) * t.stride(d);
  }
  return last + 1;
}

// Threads per row for `units` accesses: about two each (so blocks stay small and many fit on an SM),
// a multiple of 32 between 32 and 1024.
int rowThreads(int64_t units) {
  const int64_t wanted = (units + 1) / 2;
  return static_cast<int>(std::min<int64_t>(1024, std::max<int64_t>(32, (wanted + 31) / 32 * 32)));
}

int multiprocessors(c10::DeviceIndex device) {
  int count = 0;
  C10_CUDA_CHECK(cudaDeviceGetAttribute(&count, cudaDevAttrMultiProcessorCount, device));
  return count;
}

// A rotary operand's result: x's strides where x is dense (empty_like keeps them, so the attention
// after it sees the layout it saw before), else contiguous.
at::Tensor rotaryResult(const at::Tensor& x) {
  if (!x.defined()) {
    return x;
  }
  at::Tensor out = at::empty_like(x);
  return out.stride(3) == 1 ? out : at::empty(x.sizes(), x.options());
}

template <typename scalar_t, typename index_t>
RotaryOperand<scalar_t, index_t> operand(const at::Tensor& x, const at::Tensor& out, int V) {
  RotaryOperand<scalar_t, index_t> op{};
  if (!x.defined()) {
    return op;
  }
  op.in = x.data_ptr<scalar_t>();
  op.out = out.data_ptr<scalar_t>();
  op.units = static_cast<index_t>(x.numel() / 2 / V);
  op.heads = static_cast<index_t>(x.size(1));
  op.inB = static_cast<index_t>(x.stride(0));
  op.inH = static_cast<index_t>(x.stride(1));
  op.inT = static_cast<index_t>(x.stride(2));
  op.outB = static_cast<index_t>(out.stride(0));
  op.outH = static_cast<index_t>(out.stride(1));
  op.outT = static_cast<index_t>(out.stride(2));
  return op;
}

template <typename scalar_t, typename acc_t, typename index_t, int V>
void launchRotary(const at::Tensor& q, const at::Tensor& qOut, const at::Tensor& k, const at::Tensor& kOut,
                  const at::Tensor& cos, const at::Tensor& sin, bool transpose) {
  const RotaryOperand<scalar_t, index_t> first = operand<scalar_t, index_t>(q, qOut, V);
  const RotaryOperand<scalar_t, index_t> second = operand<scalar_t, index_t>(k, kOut, V);
  const int64_t total = static_cast<int64_t>(first.units) + second.units;
  if (total == 0) {
    return;
  }
  const int64_t wanted = (total + kRotaryThreads - 1) / kRotaryThreads;
  const int blocks =
      static_cast<int>(std::min<int64_t>(wanted, int64_t{multiprocessors(cos.device().index())} * 32));
  rotaryKernel<scalar_t, acc_t, index_t, V><<<blocks, kRotaryThreads, 0, c10::cuda::getCurrentCUDAStream()>>>(
      first, second, cos.data_ptr<scalar_t>(), sin.data_ptr<scalar_t>(), static_cast<index_t>(cos.size(0)),
      static_cast<index_t>(cos.size(1) / 2), transpose);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

at::Tensor checkedOperand(const at::Tensor& x, const char* name, const at::Tensor& like, int64_t seq, int64_t hd) {
  if (!x.defined()) {
    return x;
  }
  TORCH_CHECK(x.dim() == 4, "rotary: ", name, " must be (B, heads, T, head_dim), got ", x.sizes());
  TORCH_CHECK(x.size(2) == seq && x.size(3) == hd, "rotary: ", name, " is ", x.sizes(), " but the tables are (",
              seq, ", ", hd, ")");
  TORCH_CHECK(x.scalar_type() == like.scalar_type() && x.device() == like.device(), "rotary: ", name, " is ",
              x.scalar_type(), " on ", x.device(), ", the tables ", like.scalar_type(), " on ", like.device());
  return x.stride(3) == 1 ? x : x.contiguous();
}

}  // namespace

std::pair<at::Tensor, at::Tensor> rotaryCuda(const at::Tensor& q, const at::Tensor& k, const at::Tensor& cos,
                                             const at::Tensor& sin, bool transpose) {
  TORCH_CHECK(cos.dim() == 2 && sin.sizes() == cos.sizes(), "rotary: cos and sin must be (T, head_dim), got ",
              cos.sizes(), " and ", sin.sizes());
  TORCH_CHECK(cos.is_cuda() && sin.device() == cos.device() && sin.scalar_type() == cos.scalar_type(),
              "rotary: the tables must be CUDA tensors of one dtype, got ", cos.scalar_type(), " on ", cos.device(),
              " and ", sin.scalar_type(), " on ", sin.device());
  const int64_t seq = cos.size(0);
  const int64_t hd = cos.size(1);
  TORCH_CHECK(hd % 2 == 0, "rotary: head_dim must be even, got ", hd);
  const at::Tensor qIn = checkedOperand(q, "q", cos, seq, hd);
  const at::Tensor kIn = checkedOperand(k, "k", cos, seq, hd);
  const c10::cuda::CUDAGuard guard(cos.device());
  const at::Tensor c = cos.contiguous();
  const at::Tensor s = sin.contiguous();
  at::Tensor qOut = rotaryResult(qIn);
  at::Tensor kOut = rotaryResult(kIn);
  // 32-bit indices where every offset, and the thread count past the last unit, stay below 2^31.
  const int64_t reach = std::max({extent(qIn), extent(kIn), extent(qOut), extent(kOut), c.numel(),
                                  (qIn.defined() ? qIn.numel() : 0) + (kIn.defined() ? kIn.numel() : 0)});
  const bool narrow = reach < (int64_t{1} << 30);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::ScalarType::Half, at::ScalarType::BFloat16, cos.scalar_type(), "rotary", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    constexpr int P = packOf<scalar_t>();
    const bool packed = (hd / 2) % P == 0 && packable(qIn, P) && packable(kIn, P) && packable(qOut, P) &&
                        packable(kOut, P) && packable(c, P) && packable(s, P);
    if (packed && narrow) {
      launchRotary<scalar_t, acc_t, int32_t, P>(qIn, qOut, kIn, kOut, c, s, transpose);
    } else if (packed) {
      launchRotary<scalar_t, acc_t, int64_t, P>(qIn, qOut, kIn, kOut, c, s, transpose);
    } else if (narrow) {
      launchRotary<scalar_t, acc_t, int32_t, 1>(qIn, qOut, kIn, kOut, c, s, transpose);
    } else {
      launchRotary<scalar_t, acc_t, int64_t, 1>(qIn, qOut, kIn, kOut, c, s, transpose);
    }
  });
  return {qOut, kOut};
}

AddRmsNormForward addRmsNormCuda(const at::Tensor& x, const at::Tensor& residual, const at::Tensor& gain,
                                 double eps) {
  TORCH_CHECK(x.is_cuda(), "addRmsNorm: x must be a CUDA tensor, got one on ", x.device());
  TORCH_CHECK(x.dim() >= 1 && residual.sizes() == x.sizes(), "addRmsNorm: x ", x.sizes(), " and residual ",
              residual.sizes(), " must have one shape");
  const int64_t n = x.size(-1);
  TORCH_CHECK(gain.dim() == 1 && gain.size(0) == n, "addRmsNorm: gain must be (", n, "), got ", gain.sizes());
  TORCH_CHECK(residual.scalar_type() == x.scalar_type() && gain.scalar_type() == x.scalar_type(),
              "addRmsNorm: x, residual and gain must have one dtype, got ", x.scalar_type(), ", ",
              residual.scalar_type(), ", ", gain.scalar_type());
  TORCH_CHECK(residual.device() == x.device() && gain.device() == x.device(),
              "addRmsNorm: x, residual and gain must be on one device");
  const c10::cuda::CUDAGuard guard(x.device());
  const at::Tensor xc = x.contiguous();
  const at::Tensor rc = residual.contiguous();
  const at::Tensor gc = gain.contiguous();
  const int64_t rows = n == 0 ? 0 : x.numel() / n;
  AddRmsNormForward result;
  result.out = at::empty(x.sizes(), x.options());
  result.sum = at::empty(x.sizes(), x.options());
  const at::ScalarType stats = x.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  result.inv = at::empty({rows}, x.options().dtype(stats));
  if (rows == 0) {
    return result;
  }
  AT_DISPATCH_FLOATING_TYPES_AND2(at::ScalarType::Half, at::ScalarType::BFloat16, x.scalar_type(), "addRmsNorm", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    constexpr int P = packOf<scalar_t>();
    const bool packed = n % P == 0 && packable(xc, P) && packable(rc, P) && packable(gc, P) &&
                        packable(result.out, P) && packable(result.sum, P);
    const int V = packed ? P : 1;
    const int blocks = static_cast<int>(std::min<int64_t>(rows, int64_t{1} << 20));
    const int threads = rowThreads(n / V);
    cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
    if (packed) {
      addRmsNormKernel<scalar_t, acc_t, P><<<blocks, threads, 0, stream>>>(
          xc.data_ptr<scalar_t>(), rc.data_ptr<scalar_t>(), gc.data_ptr<scalar_t>(), result.out.data_ptr<scalar_t>(),
          result.sum.data_ptr<scalar_t>(), result.inv.data_ptr<acc_t>(), rows, n, static_cast<acc_t>(eps));
    } else {
      addRmsNormKernel<scalar_t, acc_t, 1><<<blocks, threads, 0, stream>>>(
          xc.data_ptr<scalar_t>(), rc.data_ptr<scalar_t>(), gc.data_ptr<scalar_t>(), result.out.data_ptr<scalar_t>(),
          result.sum.data_ptr<scalar_t>(), result.inv.data_ptr<acc_t>(), rows, n, static_cast<acc_t>(eps));
    }
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return result;
}

std::pair<at::Tensor, at::Tensor> addRmsNormBackwardCuda(const at::Tensor& gradOut, const at::Tensor& gradSum,
                                                         const at::Tensor& sum, const at::Tensor& gain,
                                                         const at::Tensor& inv) {
  TORCH_CHECK(!gradOut.defined() || gradOut.sizes() == sum.sizes(), "addRmsNorm backward: gradient ",
              gradOut.sizes(), " for an output ", sum.sizes());
  TORCH_CHECK(!gradSum.defined() || gradSum.sizes() == sum.sizes(), "addRmsNorm backward: gradient ",
              gradSum.sizes(), " for a sum ", sum.sizes());
  TORCH_CHECK(sum.is_contiguous() && inv.is_contiguous() && inv.numel() * sum.size(-1) == sum.numel(),
              "addRmsNorm backward: the saved sum and statistics do not match");
  const c10::cuda::CUDAGuard guard(sum.device());
  const at::Tensor g = gain.contiguous();
  const int64_t n = sum.size(-1);
  const int64_t rows = n == 0 ? 0 : sum.numel() / n;
  const at::Tensor dy = gradOut.defined() ? gradOut.to(sum.scalar_type()).contiguous() : gradOut;
  const at::Tensor ds = gradSum.defined() ? gradSum.to(sum.scalar_type()).contiguous() : gradSum;
  at::Tensor gradX = at::empty(sum.sizes(), sum.options());
  at::Tensor gradGain;
  if (rows == 0) {
    return {gradX, dy.defined() ? at::zeros_like(gain) : gradGain};
  }
  AT_DISPATCH_FLOATING_TYPES_AND2(at::ScalarType::Half, at::ScalarType::BFloat16, sum.scalar_type(),
                                  "addRmsNormBackward", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    constexpr int P = packOf<scalar_t>();
    const bool packed = n % P == 0 && packable(dy, P) && packable(ds, P) && packable(sum, P) && packable(g, P) &&
                        packable(gradX, P);
    const int threads = rowThreads(n / (packed ? P : 1));
    const int64_t perSm = std::max(1, 2048 / threads);
    const int blocks = static_cast<int>(std::min<int64_t>(rows, perSm * multiprocessors(sum.device().index())));
    at::Tensor partial;
    if (dy.defined()) {
      partial = at::empty({blocks, n}, inv.options());
    }
    const scalar_t* dyp = dy.defined() ? dy.data_ptr<scalar_t>() : nullptr;
    const scalar_t* dsp = ds.defined() ? ds.data_ptr<scalar_t>() : nullptr;
    acc_t* partialp = dy.defined() ? partial.data_ptr<acc_t>() : nullptr;
    cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
    if (packed) {
      addRmsNormBackwardKernel<scalar_t, acc_t, P><<<blocks, threads, 0, stream>>>(
          dyp, dsp, sum.data_ptr<scalar_t>(), g.data_ptr<scalar_t>(), inv.data_ptr<acc_t>(),
          gradX.data_ptr<scalar_t>(), partialp, rows, n);
    } else {
      addRmsNormBackwardKernel<scalar_t, acc_t, 1><<<blocks, threads, 0, stream>>>(
          dyp, dsp, sum.data_ptr<scalar_t>(), g.data_ptr<scalar_t>(), inv.data_ptr<acc_t>(),
          gradX.data_ptr<scalar_t>(), partialp, rows, n);
    }
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    if (dy.defined()) {
      gradGain = partial.sum(0).to(gain.scalar_type());
    }
  });
  return {gradX, gradGain};
}

}  // namespace orthoslice
