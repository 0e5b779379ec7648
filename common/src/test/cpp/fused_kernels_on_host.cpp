// Runs the CUDA kernels of fused_kernels.cuh on the host, so their indexing, packing and reductions
// can be checked on a machine without a GPU (the parity against ATen on a GPU is
// io.orthoslice.common.model.FusedKernelsParityTest). Not part of the Maven build:
//
//   g++ -std=c++20 -O1 -pthread -Wno-unknown-pragmas -I common/src/main/cpp
//       common/src/test/cpp/fused_kernels_on_host.cpp -o /tmp/fk && /tmp/fk
//
// One std::thread per CUDA thread, the blocks one after another; __syncthreads is a barrier of the
// block, __shfl_down_sync an exchange through a slot array per warp, __shared__ a static (one block
// runs at a time). fp16 is GCC's _Float16. Each case compares with the formulas in double and exits
// non-zero when one fails.

#include <algorithm>
#include <barrier>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <random>
#include <thread>
#include <vector>

struct Dim {
  unsigned x;
};
thread_local Dim threadIdx;
thread_local Dim blockIdx;
Dim blockDim;
Dim gridDim;
std::barrier<>* blockBarrier;
std::vector<std::unique_ptr<std::barrier<>>> warpBarriers;
std::vector<std::vector<double>> warpSlots;

#define __global__
#define __device__
#define __forceinline__ inline
#define __shared__ static

inline void __syncthreads() { blockBarrier->arrive_and_wait(); }

template <typename T>
T __shfl_down_sync(unsigned, T v, int offset) {
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  warpSlots[warp][lane] = static_cast<double>(v);
  warpBarriers[warp]->arrive_and_wait();
  const T out = lane + offset < 32 ? static_cast<T>(warpSlots[warp][lane + offset]) : v;
  warpBarriers[warp]->arrive_and_wait();
  return out;
}

#include "fused_kernels.cuh"

using namespace orthoslice::kernels;
using half_t = _Float16;

// <<<blocks, threads>>> body(), threads a multiple of 32.
void launch(int blocks, int threads, const std::function<void()>& body) {
  gridDim.x = blocks;
  blockDim.x = threads;
  for (int b = 0; b < blocks; ++b) {
    std::barrier<> barrier(threads);
    blockBarrier = &barrier;
    warpBarriers.clear();
    warpSlots.assign(threads / 32, std::vector<double>(32));
    for (int w = 0; w < threads / 32; ++w) {
      warpBarriers.emplace_back(new std::barrier<>(32));
    }
    std::vector<std::thread> team;
    for (int t = 0; t < threads; ++t) {
      team.emplace_back([&body, t, b] {
        threadIdx.x = t;
        blockIdx.x = b;
        body();
      });
    }
    for (auto& t : team) {
      t.join();
    }
  }
}

std::mt19937 rng(7);

template <typename T>
std::vector<T> uniform(size_t n, double center, double scale) {
  std::uniform_real_distribution<double> u(-scale, scale);
  std::vector<T> v(n);
  for (auto& x : v) {
    x = static_cast<T>(center + u(rng));
  }
  return v;
}

int failures = 0;

void check(const char* what, double error, double bound) {
  const bool ok = error <= bound;
  std::printf("%-70s max error %.3g %s\n", what, error, ok ? "ok" : "FAIL");
  failures += ok ? 0 : 1;
}

// q (B, H, T, hd) and k (B, K, T, hd), stored (B, T, heads, hd) when projected (the model's views),
// rotated forward or transposed by the kernel with V values per access and index type I.
template <typename T, typename I, int V>
void rotary(int B, int H, int K, int T_, int hd, bool projected, bool transpose, int blocks, double bound) {
  const int half = hd / 2;
  auto strides = [&](int n) {
    return projected ? std::vector<int64_t>{int64_t{T_} * n * hd, hd, int64_t{n} * hd}
                     : std::vector<int64_t>{int64_t{n} * T_ * hd, int64_t{T_} * hd, hd};
  };
  std::vector<T> q = uniform<T>(size_t(B) * H * T_ * hd, 0, 2);
  std::vector<T> k = uniform<T>(size_t(B) * K * T_ * hd, 0, 2);
  std::vector<T> qOut(q.size(), T(NAN));
  std::vector<T> kOut(k.size(), T(NAN));
  std::vector<T> cos(size_t(T_) * hd);
  std::vector<T> sin(size_t(T_) * hd);
  for (int t = 0; t < T_; ++t) {
    for (int i = 0; i < half; ++i) {
      const double angle = t / std::pow(10000.0, 2.0 * i / hd);
      cos[t * hd + i] = cos[t * hd + i + half] = T(std::cos(angle));
      sin[t * hd + i] = sin[t * hd + i + half] = T(std::sin(angle));
    }
  }
  const auto qs = strides(H);
  const auto ks = strides(K);
  RotaryOperand<T, I> first{q.data(), qOut.data(), I(int64_t{B} * H * T_ * half / V), I(H),
                            I(qs[0]), I(qs[1]), I(qs[2]), I(qs[0]), I(qs[1]), I(qs[2])};
  RotaryOperand<T, I> second{k.data(), kOut.data(), I(int64_t{B} * K * T_ * half / V), I(K),
                             I(ks[0]), I(ks[1]), I(ks[2]), I(ks[0]), I(ks[1]), I(ks[2])};
  launch(blocks, 64, [&] {
    rotaryKernel<T, float, I, V>(first, second, cos.data(), sin.data(), I(T_), I(half), transpose);
  });
  double worst = 0;
  for (int which = 0; which < 2; ++which) {
    const auto& in = which == 0 ? q : k;
    const auto& out = which == 0 ? qOut : kOut;
    const auto& st = which == 0 ? qs : ks;
    for (int b = 0; b < B; ++b) {
      for (int h = 0; h < (which == 0 ? H : K); ++h) {
        for (int t = 0; t < T_; ++t) {
          for (int i = 0; i < half; ++i) {
            const int64_t o = b * st[0] + h * st[1] + t * st[2];
            const double lo = in[o + i], hi = in[o + i + half];
            const double cl = cos[t * hd + i], ch = cos[t * hd + i + half];
            const double sl = sin[t * hd + i], sh = sin[t * hd + i + half];
            const double yLo = transpose ? lo * cl + hi * sh : lo * cl - hi * sl;
            const double yHi = transpose ? hi * ch - lo * sl : hi * ch + lo * sh;
            const double e = std::max(std::fabs(out[o + i] - yLo), std::fabs(out[o + i + half] - yHi));
            worst = std::max(worst, std::isnan(e) ? 1e9 : e);
          }
        }
      }
    }
  }
  char what[160];
  std::snprintf(what, sizeof what, "rotary %s V=%d hd=%d %s %s, %zu-byte indices", sizeof(T) == 2 ? "fp16" : "fp32",
                V, hd, projected ? "projection views" : "contiguous", transpose ? "transpose" : "forward", sizeof(I));
  check(what, worst, bound);
}

// The forward over rows x n, then the backward with or without each upstream gradient, on
// blocksBackward blocks (fewer than rows: each block takes several).
template <typename T, int V>
void addRmsNorm(int rows, int n, int threads, int blocksBackward, bool gradOut, bool gradSum, double bound) {
  const double eps = 1e-5;
  std::vector<T> x = uniform<T>(size_t(rows) * n, 0, 2);
  std::vector<T> r = uniform<T>(size_t(rows) * n, 0, 2);
  std::vector<T> g = uniform<T>(n, 1, 0.5);
  std::vector<T> dy = uniform<T>(size_t(rows) * n, 0, 1);
  std::vector<T> ds = uniform<T>(size_t(rows) * n, 0, 1);
  std::vector<T> out(x.size());
  std::vector<T> sum(x.size());
  std::vector<T> dx(x.size(), T(NAN));
  std::vector<float> inv(rows);
  std::vector<float> partial(size_t(blocksBackward) * n, NAN);
  launch(std::min(rows, 5), threads, [&] {
    addRmsNormKernel<T, float, V>(x.data(), r.data(), g.data(), out.data(), sum.data(), inv.data(), rows, n,
                                  float(eps));
  });
  launch(blocksBackward, threads, [&] {
    addRmsNormBackwardKernel<T, float, V>(gradOut ? dy.data() : nullptr, gradSum ? ds.data() : nullptr, sum.data(),
                                          g.data(), inv.data(), dx.data(), gradOut ? partial.data() : nullptr, rows,
                                          n);
  });
  double sumError = 0;  // must be exact: x + r rounded once, as the separate add
  double worst = 0;
  std::vector<double> dg(n, 0);
  for (int row = 0; row < rows; ++row) {
    std::vector<double> s(n);
    double squares = 0;
    for (int j = 0; j < n; ++j) {
      s[j] = double(T(float(x[row * n + j]) + float(r[row * n + j])));
      squares += s[j] * s[j];
      sumError = std::max(sumError, std::fabs(sum[row * n + j] - s[j]));
    }
    const double rr = 1 / std::sqrt(squares / n + eps);
    double dot = 0;
    for (int j = 0; j < n; ++j) {
      worst = std::max(worst, std::fabs(out[row * n + j] - s[j] * rr * double(g[j])));
      dot += gradOut ? double(dy[row * n + j]) * double(g[j]) * s[j] : 0;
    }
    for (int j = 0; j < n; ++j) {
      double want = gradSum ? double(ds[row * n + j]) : 0;
      if (gradOut) {
        want += rr * double(dy[row * n + j]) * double(g[j]) - s[j] * rr * rr * rr * dot / n;
        dg[j] += double(dy[row * n + j]) * s[j] * rr;
      }
      const double e = std::fabs(dx[row * n + j] - want);
      worst = std::max(worst, std::isnan(e) ? 1e9 : e);
    }
  }
  if (gradOut) {
    for (int j = 0; j < n; ++j) {
      double total = 0;
      for (int b = 0; b < blocksBackward; ++b) {
        total += partial[size_t(b) * n + j];
      }
      const double e = std::fabs(total - dg[j]) / (1 + std::fabs(dg[j]));
      worst = std::max(worst, std::isnan(e) ? 1e9 : e);
    }
  }
  char what[160];
  std::snprintf(what, sizeof what, "addRmsNorm %s V=%d %dx%d, %d threads, %s%s", sizeof(T) == 2 ? "fp16" : "fp32", V,
                rows, n, threads, gradOut ? "dOut " : "", gradSum ? "dSum" : "");
  check(what, sumError == 0 ? worst : 1e9, bound);
}

int main() {
  for (bool projected : {true, false}) {
    for (bool transpose : {false, true}) {
      rotary<float, int32_t, 4>(2, 4, 2, 7, 16, projected, transpose, 3, 1e-5);
      rotary<float, int64_t, 1>(2, 4, 2, 7, 6, projected, transpose, 2, 1e-5);
      rotary<half_t, int32_t, 8>(2, 4, 2, 5, 64, projected, transpose, 4, 4e-3);
      rotary<half_t, int64_t, 1>(1, 2, 1, 3, 6, projected, transpose, 1, 4e-3);
    }
  }
  addRmsNorm<float, 4>(7, 100, 32, 3, true, true, 1e-5);
  addRmsNorm<float, 1>(7, 100, 64, 3, true, false, 1e-5);
  addRmsNorm<float, 4>(5, 768, 96, 2, false, true, 1e-5);
  addRmsNorm<half_t, 8>(6, 768, 64, 4, true, true, 1e-2);
  addRmsNorm<half_t, 1>(6, 100, 64, 6, true, true, 1e-2);
  std::printf("%d failed\n", failures);
  return failures == 0 ? 0 : 1;
}
