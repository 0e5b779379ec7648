// Orthoslice's own CUDA kernels, where ATen has no fused op (declared in fused_kernels.h):
//   rotary          RoPE over q and k in one launch, forward and (transposed) backward;
//   addRmsNorm      out = rmsnorm(x + residual) * gain and the new residual x + residual, one pass
//                   each way.
// Launched on torch's current stream of the tensors' device, so they order with ATen's kernels and
// the caching allocator. Only c10's CUDA headers are used (no ATen/cuda/CUDAContext.h, which pulls
// in cuBLAS and cuSOLVER headers a bare toolkit may not have).

#include "fused_kernels.h"

#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include <algorithm>
#include <cstdint>

namespace orthoslice {
namespace {

constexpr int kRotaryThreads = 256;

// One operand of the rotary kernel: a (B, heads, T, hd) tensor (hd contiguous) and its result.
template <typename scalar_t>
struct RotaryOperand {
  const scalar_t* in;
  scalar_t* out;
  int64_t pairs;  // B * heads * T * hd/2: one thread's work is the pair (i, i + hd/2)
  int64_t heads;
  int64_t inB, inH, inT;     // strides of in (elements)
  int64_t outB, outH, outT;  // strides of out
};

// Pair (i, i + h) of row (b, head, t), with h = hd/2 and the tables' row t:
//   forward    y_i = x_i c_i - x_{i+h} s_i,       y_{i+h} = x_{i+h} c_{i+h} + x_i s_{i+h}
//   transpose  y_i = x_i c_i + x_{i+h} s_{i+h},   y_{i+h} = x_{i+h} c_{i+h} - x_i s_i
// The forward is x * cos + rotate_half(x) * sin exactly; the transpose is its adjoint, so it is the
// backward for any tables. Consecutive threads take consecutive i, so a warp reads both halves of a
// row coalesced.
template <typename scalar_t, typename acc_t>
__global__ void rotaryKernel(RotaryOperand<scalar_t> first, RotaryOperand<scalar_t> second,
                             const scalar_t* __restrict__ cos, const scalar_t* __restrict__ sin, int64_t seq,
                             int64_t half, bool transpose) {
  const int64_t total = first.pairs + second.pairs;
  const int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t p = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; p < total; p += stride) {
    const bool isFirst = p < first.pairs;
    const RotaryOperand<scalar_t> op = isFirst ? first : second;
    const int64_t index = isFirst ? p : p - first.pairs;
    const int64_t i = index % half;
    int64_t row = index / half;
    const int64_t t = row % seq;
    row /= seq;
    const int64_t head = row % op.heads;
    const int64_t b = row / op.heads;
    const scalar_t* x = op.in + b * op.inB + head * op.inH + t * op.inT;
    scalar_t* y = op.out + b * op.outB + head * op.outH + t * op.outT;
    const scalar_t* c = cos + t * 2 * half;
    const scalar_t* s = sin + t * 2 * half;
    const acc_t lo = static_cast<acc_t>(x[i]);
    const acc_t hi = static_cast<acc_t>(x[i + half]);
    const acc_t cLo = static_cast<acc_t>(c[i]);
    const acc_t cHi = static_cast<acc_t>(c[i + half]);
    const acc_t sLo = static_cast<acc_t>(s[i]);
    const acc_t sHi = static_cast<acc_t>(s[i + half]);
    if (transpose) {
      y[i] = static_cast<scalar_t>(lo * cLo + hi * sHi);
      y[i + half] = static_cast<scalar_t>(hi * cHi - lo * sLo);
    } else {
      y[i] = static_cast<scalar_t>(lo * cLo - hi * sLo);
      y[i + half] = static_cast<scalar_t>(hi * cHi + lo * sHi);
    }
  }
}

// The sum of v over the block (blockDim.x a multiple of 32, at most 1024), returned to every thread.
// buf holds 32 values; the leading barrier lets one buffer serve consecutive calls.
template <typename acc_t>
__device__ acc_t blockSum(acc_t v, acc_t* buf) {
  for (int o = 16; o > 0; o >>= 1) {
    v += __shfl_down_sync(0xffffffffu, v, o);
  }
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  __syncthreads();
  if (lane == 0) {
    buf[warp] = v;
  }
  __syncthreads();
  if (warp == 0) {
    v = lane < static_cast<int>(blockDim.x >> 5) ? buf[lane] : acc_t(0);
    for (int o = 16; o > 0; o >>= 1) {
      v += __shfl_down_sync(0xffffffffu, v, o);
    }
    if (lane == 0) {
      buf[0] = v;
    }
  }
  __syncthreads();
  return buf[0];
}

// One block per row (n values): sum = x + r rounded to scalar_t (what the separate add stores), its
// mean square in acc_t, then out = sum * inv * gain with one rounding. Each thread reads back only
// the sums it wrote itself, so no barrier is needed between the two passes.
template <typename scalar_t, typename acc_t>
__global__ void addRmsNormKernel(const scalar_t* __restrict__ x, const scalar_t* __restrict__ r,
                                 const scalar_t* __restrict__ gain, scalar_t* __restrict__ out,
                                 scalar_t* __restrict__ sum, acc_t* __restrict__ inv, int64_t rows, int64_t n,
                                 acc_t eps) {
  __shared__ acc_t buf[32];
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const int64_t base = row * n;
    acc_t squares = 0;
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
      const scalar_t s = static_cast<scalar_t>(static_cast<acc_t>(x[base + j]) + static_cast<acc_t>(r[base + j]));
      sum[base + j] = s;
      const acc_t f = static_cast<acc_t>(s);
      squares += f * f;
    }
    const acc_t rstd = acc_t(1) / ::sqrt(blockSum(squares, buf) / static_cast<acc_t>(n) + eps);
    if (threadIdx.x == 0) {
      inv[row] = rstd;
    }
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
      out[base + j] = static_cast<scalar_t>(static_cast<acc_t>(sum[base + j]) * rstd * static_cast<acc_t>(gain[j]));
    }
  }
}

// With y = g s r, r = (mean(s^2) + eps)^(-1/2), s = x + residual:
//   dL/ds_k = r g_k dy_k - s_k r^3 (sum_j dy_j g_j s_j) / n,  plus the sum's own gradient;
//   dL/dg_j = sum over rows of dy_j s_j r.
// Rows are spread over the grid; block b accumulates its rows' gain terms in partial[b] (its own
// row of the buffer, each column owned by one thread), summed over blocks afterwards.
template <typename scalar_t, typename acc_t>
__global__ void addRmsNormBackwardKernel(const scalar_t* __restrict__ gradOut, const scalar_t* __restrict__ gradSum,
                                         const scalar_t* __restrict__ sum, const scalar_t* __restrict__ gain,
                                         const acc_t* __restrict__ inv, scalar_t* __restrict__ gradX,
                                         acc_t* __restrict__ gainPartial, int64_t rows, int64_t n) {
  __shared__ acc_t buf[32];
  acc_t* partial = gainPartial == nullptr ? nullptr : gainPartial + static_cast<int64_t>(blockIdx.x) * n;
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const int64_t base = row * n;
    const acc_t r = inv[row];
    acc_t c = 0;
    if (gradOut != nullptr) {
      acc_t dot = 0;
      for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
        dot += static_cast<acc_t>(gradOut[base + j]) * static_cast<acc_t>(gain[j]) * static_cast<acc_t>(sum[base + j]);
      }
      c = r * r * r * blockSum(dot, buf) / static_cast<acc_t>(n);
    }
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
      acc_t g = gradSum == nullptr ? acc_t(0) : static_cast<acc_t>(gradSum[base + j]);
      if (gradOut != nullptr) {
        const acc_t dy = static_cast<acc_t>(gradOut[base + j]);
        const acc_t s = static_cast<acc_t>(sum[base + j]);
        g += r * dy * static_cast<acc_t>(gain[j]) - s * c;
        partial[j] += dy * s * r;
      }
      gradX[base + j] = static_cast<scalar_t>(g);
    }
  }
}

// Threads per row: about four values each, a multiple of 32 between 32 and 1024.
int rowThreads(int64_t n) {
  int t = 32;
  while (t < 1024 && static_cast<int64_t>(t) * 4 < n) {
    t *= 2;
  }
  return t;
}

int multiprocessors(c10::DeviceIndex device) {
  int count = 0;
  C10_CUDA_CHECK(cudaDeviceGetAttribute(&count, cudaDevAttrMultiProcessorCount, device));
  return count;
}

// A rotary operand: x with a contiguous last dimension, and its result with the same strides where
// x's are dense (empty_like keeps them), so the attention after it sees the layout it saw before.
template <typename scalar_t>
RotaryOperand<scalar_t> operand(const at::Tensor& x, at::Tensor& out) {
  RotaryOperand<scalar_t> op{};
  if (!x.defined()) {
    return op;
  }
  out = at::empty_like(x);
  if (out.stride(3) != 1) {
    out = at::empty(x.sizes(), x.options());
  }
  op.in = x.data_ptr<scalar_t>();
  op.out = out.data_ptr<scalar_t>();
  op.pairs = x.numel() / 2;
  op.heads = x.size(1);
  op.inB = x.stride(0);
  op.inH = x.stride(1);
  op.inT = x.stride(2);
  op.outB = out.stride(0);
  op.outH = out.stride(1);
  op.outT = out.stride(2);
  return op;
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
  at::Tensor qOut;
  at::Tensor kOut;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::ScalarType::Half, at::ScalarType::BFloat16, cos.scalar_type(), "rotary", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    const RotaryOperand<scalar_t> first = operand<scalar_t>(qIn, qOut);
    const RotaryOperand<scalar_t> second = operand<scalar_t>(kIn, kOut);
    const int64_t total = first.pairs + second.pairs;
    if (total == 0) {
      return;
    }
    const int64_t wanted = (total + kRotaryThreads - 1) / kRotaryThreads;
    const int blocks = static_cast<int>(std::min<int64_t>(wanted, int64_t{multiprocessors(cos.device().index())} * 32));
    rotaryKernel<scalar_t, acc_t><<<blocks, kRotaryThreads, 0, c10::cuda::getCurrentCUDAStream()>>>(
        first, second, c.data_ptr<scalar_t>(), s.data_ptr<scalar_t>(), seq, hd / 2, transpose);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
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
    const int blocks = static_cast<int>(std::min<int64_t>(rows, int64_t{1} << 20));
    addRmsNormKernel<scalar_t, acc_t><<<blocks, rowThreads(n), 0, c10::cuda::getCurrentCUDAStream()>>>(
        xc.data_ptr<scalar_t>(), rc.data_ptr<scalar_t>(), gc.data_ptr<scalar_t>(), result.out.data_ptr<scalar_t>(),
        result.sum.data_ptr<scalar_t>(), result.inv.data_ptr<acc_t>(), rows, n, static_cast<acc_t>(eps));
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
  const int threads = rowThreads(n);
  const int64_t perSm = std::max(1, 2048 / threads);
  const int blocks = static_cast<int>(std::min<int64_t>(rows, perSm * multiprocessors(sum.device().index())));
  at::Tensor partial;
  if (dy.defined()) {
    partial = at::zeros({blocks, n}, inv.options());
  }
  AT_DISPATCH_FLOATING_TYPES_AND2(at::ScalarType::Half, at::ScalarType::BFloat16, sum.scalar_type(),
                                  "addRmsNormBackward", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    addRmsNormBackwardKernel<scalar_t, acc_t><<<blocks, threads, 0, c10::cuda::getCurrentCUDAStream()>>>(
        dy.defined() ? dy.data_ptr<scalar_t>() : nullptr, ds.defined() ? ds.data_ptr<scalar_t>() : nullptr,
        sum.data_ptr<scalar_t>(), g.data_ptr<scalar_t>(), inv.data_ptr<acc_t>(), gradX.data_ptr<scalar_t>(),
        dy.defined() ? partial.data_ptr<acc_t>() : nullptr, rows, n);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  if (dy.defined()) {
    gradGain = partial.sum(0).to(gain.scalar_type());
  }
  return {gradX, gradGain};
}

}  // namespace orthoslice
