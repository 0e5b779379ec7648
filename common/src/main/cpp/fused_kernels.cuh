// The device code of Orthoslice's own CUDA kernels (fused_kernels.cu launches them): no ATen, only
// CUDA C++, so the kernels themselves read apart from the tensor glue.
#pragma once

#include <cstdint>

namespace orthoslice::kernels {

// V consecutive values, loaded and stored as one aligned access.
template <typename scalar_t, int V>
struct alignas(sizeof(scalar_t) * V) Pack {
  scalar_t v[V];
};

template <int V, typename scalar_t>
__device__ __forceinline__ Pack<scalar_t, V> load(const scalar_t* p) {
  return *reinterpret_cast<const Pack<scalar_t, V>*>(p);
}

template <int V, typename scalar_t>
__device__ __forceinline__ void store(scalar_t* p, const Pack<scalar_t, V>& value) {
  *reinterpret_cast<Pack<scalar_t, V>*>(p) = value;
}

// One operand of the rotary kernel: a (B, heads, T, hd) tensor (hd contiguous) and its result.
template <typename scalar_t, typename index_t>
struct RotaryOperand {
  const scalar_t* in;
  scalar_t* out;
  index_t units;  // B * heads * T * (hd/2 / V): a thread's work is V pairs (i, i + hd/2)
  index_t heads;
  index_t inB, inH, inT;     // strides of in (elements)
  index_t outB, outH, outT;  // strides of out
};

// Pair (i, i + h) of row (b, head, t), with h = hd/2 and the tables' row t:
//   forward    y_i = x_i c_i - x_{i+h} s_i,       y_{i+h} = x_{i+h} c_{i+h} + x_i s_{i+h}
//   transpose  y_i = x_i c_i + x_{i+h} s_{i+h},   y_{i+h} = x_{i+h} c_{i+h} - x_i s_i
// The forward is x * cos + rotate_half(x) * sin exactly; the transpose is its adjoint, so it is the
// backward for any tables. Consecutive threads take consecutive groups of V pairs, so a warp reads
// both halves of a row coalesced. index_t is int32 where every offset fits (no 64-bit division).
template <typename scalar_t, typename acc_t, typename index_t, int V>
__global__ void rotaryKernel(RotaryOperand<scalar_t, index_t> first, RotaryOperand<scalar_t, index_t> second,
                             const scalar_t* __restrict__ cos, const scalar_t* __restrict__ sin, index_t seq,
                             index_t half, bool transpose) {
  const index_t groups = half / V;
  const index_t total = first.units + second.units;
  const index_t stride = static_cast<index_t>(blockDim.x) * gridDim.x;
  for (index_t u = static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x; u < total; u += stride) {
    const bool isFirst = u < first.units;
    const RotaryOperand<scalar_t, index_t> op = isFirst ? first : second;
    const index_t index = isFirst ? u : u - first.units;
    const index_t i = (index % groups) * V;
    index_t row = index / groups;
    const index_t t = row % seq;
    row /= seq;
    const index_t head = row % op.heads;
    const index_t b = row / op.heads;
    const scalar_t* x = op.in + b * op.inB + head * op.inH + t * op.inT;
    scalar_t* y = op.out + b * op.outB + head * op.outH + t * op.outT;
    const scalar_t* c = cos + t * 2 * half;
    const scalar_t* s = sin + t * 2 * half;
    const Pack<scalar_t, V> xLo = load<V>(x + i);
    const Pack<scalar_t, V> xHi = load<V>(x + i + half);
    const Pack<scalar_t, V> cLo = load<V>(c + i);
    const Pack<scalar_t, V> cHi = load<V>(c + i + half);
    const Pack<scalar_t, V> sLo = load<V>(s + i);
    const Pack<scalar_t, V> sHi = load<V>(s + i + half);
    Pack<scalar_t, V> yLo;
    Pack<scalar_t, V> yHi;
#pragma unroll
    for (int v = 0; v < V; ++v) {
      const acc_t lo = static_cast<acc_t>(xLo.v[v]);
      const acc_t hi = static_cast<acc_t>(xHi.v[v]);
      if (transpose) {
        yLo.v[v] = static_cast<scalar_t>(lo * static_cast<acc_t>(cLo.v[v]) + hi * static_cast<acc_t>(sHi.v[v]));
        yHi.v[v] = static_cast<scalar_t>(hi * static_cast<acc_t>(cHi.v[v]) - lo * static_cast<acc_t>(sLo.v[v]));
      } else {
        yLo.v[v] = static_cast<scalar_t>(lo * static_cast<acc_t>(cLo.v[v]) - hi * static_cast<acc_t>(sLo.v[v]));
        yHi.v[v] = static_cast<scalar_t>(hi * static_cast<acc_t>(cHi.v[v]) + lo * static_cast<acc_t>(sHi.v[v]));
      }
    }
    store<V>(y + i, yLo);
    store<V>(y + i + half, yHi);
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

// One block per row of n values (n a multiple of V), V values per access: sum = x + r rounded to
// scalar_t (what the separate add stores), its mean square in acc_t, then out = sum * inv * gain with
// one rounding. Each thread reads back only the sums it wrote itself, so no barrier is needed
// between the two passes.
template <typename scalar_t, typename acc_t, int V>
__global__ void addRmsNormKernel(const scalar_t* __restrict__ x, const scalar_t* __restrict__ r,
                                 const scalar_t* __restrict__ gain, scalar_t* __restrict__ out,
                                 scalar_t* __restrict__ sum, acc_t* __restrict__ inv, int64_t rows, int64_t n,
                                 acc_t eps) {
  __shared__ acc_t buf[32];
  const int64_t units = n / V;
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const int64_t base = row * n;
    acc_t squares = 0;
    for (int64_t u = threadIdx.x; u < units; u += blockDim.x) {
      const int64_t j = base + u * V;
      const Pack<scalar_t, V> xs = load<V>(x + j);
      const Pack<scalar_t, V> rs = load<V>(r + j);
      Pack<scalar_t, V> ss;
#pragma unroll
      for (int v = 0; v < V; ++v) {
        ss.v[v] = static_cast<scalar_t>(static_cast<acc_t>(xs.v[v]) + static_cast<acc_t>(rs.v[v]));
        const acc_t f = static_cast<acc_t>(ss.v[v]);
        squares += f * f;
      }
      store<V>(sum + j, ss);
    }
    const acc_t rstd = acc_t(1) / ::sqrt(blockSum(squares, buf) / static_cast<acc_t>(n) + eps);
    if (threadIdx.x == 0) {
      inv[row] = rstd;
    }
    for (int64_t u = threadIdx.x; u < units; u += blockDim.x) {
      const int64_t j = base + u * V;
      const Pack<scalar_t, V> ss = load<V>(sum + j);
      const Pack<scalar_t, V> gs = load<V>(gain + u * V);
      Pack<scalar_t, V> os;
#pragma unroll
      for (int v = 0; v < V; ++v) {
        os.v[v] = static_cast<scalar_t>(static_cast<acc_t>(ss.v[v]) * rstd * static_cast<acc_t>(gs.v[v]));
      }
      store<V>(out + j, os);
    }
  }
}

// With y = g s r, r = (mean(s^2) + eps)^(-1/2), s = x + residual:
//   dL/ds_k = r g_k dy_k - s_k r^3 (sum_j dy_j g_j s_j) / n,  plus the sum's own gradient;
//   dL/dg_j = sum over rows of dy_j s_j r.
// Rows are spread over the grid (no more blocks than rows); block b accumulates its rows' gain terms
// in partial[b] (its own row of the buffer, each column owned by one thread; its first row writes
// it, so it needs no zeroing), summed over blocks afterwards. gradOut and gradSum may be null (zero);
// partial is null exactly when gradOut is.
template <typename scalar_t, typename acc_t, int V>
__global__ void addRmsNormBackwardKernel(const scalar_t* __restrict__ gradOut, const scalar_t* __restrict__ gradSum,
                                         const scalar_t* __restrict__ sum, const scalar_t* __restrict__ gain,
                                         const acc_t* __restrict__ inv, scalar_t* __restrict__ gradX,
                                         acc_t* __restrict__ gainPartial, int64_t rows, int64_t n) {
  __shared__ acc_t buf[32];
  const int64_t units = n / V;
  acc_t* partial = gainPartial == nullptr ? nullptr : gainPartial + static_cast<int64_t>(blockIdx.x) * n;
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const int64_t base = row * n;
    const acc_t r = inv[row];
    acc_t c = 0;
    if (gradOut != nullptr) {
      acc_t dot = 0;
      for (int64_t u = threadIdx.x; u < units; u += blockDim.x) {
        const int64_t j = base + u * V;
        const Pack<scalar_t, V> dys = load<V>(gradOut + j);
        const Pack<scalar_t, V> ss = load<V>(sum + j);
        const Pack<scalar_t, V> gs = load<V>(gain + u * V);
#pragma unroll
        for (int v = 0; v < V; ++v) {
          dot += static_cast<acc_t>(dys.v[v]) * static_cast<acc_t>(gs.v[v]) * static_cast<acc_t>(ss.v[v]);
        }
      }
      c = r * r * r * blockSum(dot, buf) / static_cast<acc_t>(n);
    }
    for (int64_t u = threadIdx.x; u < units; u += blockDim.x) {
      const int64_t j = base + u * V;
      acc_t g[V];
      if (gradSum != nullptr) {
        const Pack<scalar_t, V> dss = load<V>(gradSum + j);
#pragma unroll
        for (int v = 0; v < V; ++v) {
          g[v] = static_cast<acc_t>(dss.v[v]);
        }
      } else {
#pragma unroll
        for (int v = 0; v < V; ++v) {
          g[v] = 0;
        }
      }
      if (gradOut != nullptr) {
        const Pack<scalar_t, V> dys = load<V>(gradOut + j);
        const Pack<scalar_t, V> ss = load<V>(sum + j);
        const Pack<scalar_t, V> gs = load<V>(gain + u * V);
#pragma unroll
        for (int v = 0; v < V; ++v) {
          const acc_t dy = static_cast<acc_t>(dys.v[v]);
          const acc_t s = static_cast<acc_t>(ss.v[v]);
          g[v] += r * dy * static_cast<acc_t>(gs.v[v]) - s * c;
          const acc_t term = dy * s * r;
          partial[u * V + v] = row == static_cast<int64_t>(blockIdx.x) ? term : partial[u * V + v] + term;
        }
      }
      Pack<scalar_t, V> gx;
#pragma unroll
      for (int v = 0; v < V; ++v) {
        gx.v[v] = static_cast<scalar_t>(g[v]);
      }
      store<V>(gradX + j, gx);
    }
  }
}

}  // namespace orthoslice::kernels
