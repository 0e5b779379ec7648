package io.orthoslice.common.kernels;

import ai.djl.ndarray.NDArray;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;

/**
 * The JNI entry points of liborthoslice_kernels.so (sources in common/src/main/cpp), on DJL tensor
 * handles: a {@link PtNDArray}'s handle is libtorch's {@code torch::Tensor*}, so a result is wrapped
 * as a new array of the first input's manager and stays on autograd's tape. Only {@link Kernels}
 * loads the library; callers ask {@link Kernels} whether an op is active first.
 */
public final class NativeKernels {

  private NativeKernels() {}

  private static native long attention(long q, long k, long v, double scale);

  private static native long rmsNorm(long x, long gain, double eps);

  private static native void adamw(long w, long g, long m, long v, long step, double lr, double beta1, double beta2,
      double eps, double weightDecay, double gradScale);

  private static native long adapterWeight(long w, long b, long p, boolean right, double alpha, boolean half);

  private static native long swiGlu(long gate, long up);

  private static native long bitSum(long w);

  private static native long[] bitSums(long[] ws);

  private static native float[] sums(long[] ws);

  private static native boolean useSideStream(int device, boolean high);

  private static native void deterministic(boolean on);

  private static native long[] rotary(long q, long k, long cos, long sin);

  private static native long[] addRmsNorm(long x, long residual, long gain, double eps);

  private static native boolean cudaKernels();

  private static native void profileStart();

  private static native String profileStop(String tracePath);

  /**
   * Starts torch's profiler (host ops and GPU kernels) on this thread; {@link #stopProfile} ends it.
   * Only while the library is loaded ({@link Kernels#loaded()}).
   */
  public static void startProfile() {
    profileStart();
  }

  /**
   * Stops the profiler; writes a Chrome trace to {@code tracePath} unless empty, and returns one line
   * per device and event name, {@code cpu|gpu TAB count TAB total-us TAB name}, largest total first.
   */
  public static String stopProfile(String tracePath) {
    return profileStop(tracePath);
  }

  /**
   * Causal scaled-dot-product attention {@code softmax(q k^T scale + causal mask) v} through ATen's
   * fused kernels; q, k, v are (B, heads, T, hd) of one dtype. The result belongs to q's manager.
   */
  public static NDArray causalAttention(NDArray q, NDArray k, NDArray v, double scale) {
    return wrap(q, attention(handle(q), handle(k), handle(v), scale));
  }

  /** {@code x / sqrt(mean(x^2, -1) + eps) * gain} (statistics in fp32, as HF); in x's manager. */
  public static NDArray rmsNorm(NDArray x, NDArray gain, double eps) {
    return wrap(x, rmsNorm(handle(x), handle(gain), eps));
  }

  /**
   * One AdamW step in place on {@code w} and its moments (torch's fused kernel, PyTorch's order:
   * decoupled decay, then the bias-corrected step) with gradient {@code g * gradScale}; {@code t} is
   * Adam's step count after this step.
   */
  public static void adamw(NDArray w, NDArray g, NDArray m, NDArray v, long t, double lr, double beta1, double beta2,
      double eps, double weightDecay, double gradScale) {
    adamw(handle(w), handle(g), handle(m), handle(v), t, lr, beta1, beta2, eps, weightDecay, gradScale);
  }

  /**
   * An adapter's effective weight in the compute dtype, one addmm on the tape: {@code W + alpha B P^T}
   * ({@code right}: B m x r, P n x r) or {@code W + alpha P B} (P m x r, B r x n); the inputs are cast
   * to fp16 ({@code half}) or fp32 inside, and the casts are freed before it returns. The result
   * belongs to {@code w}'s manager.
   */
  public static NDArray adapterWeight(NDArray w, NDArray b, NDArray p, boolean right, double alpha, boolean half) {
    return wrap(w, adapterWeight(handle(w), handle(b), handle(p), right, alpha, half));
  }

  /**
   * SwiGLU's gated product {@code silu(gate) * up} (gate and up of one shape and dtype) on the tape:
   * at::silu saves only its input for backward where {@code x * sigmoid(x)} also keeps the sigmoid,
   * and it runs two kernels forward and three backward instead of three and six. In gate's manager.
   */
  public static NDArray swiGlu(NDArray gate, NDArray up) {
    return wrap(gate, swiGlu(handle(gate), handle(up)));
  }

  /**
   * Whether the loaded library has its CUDA kernels ({@link #rotary}, {@link #addRmsNorm}): build.sh
   * compiles them only where it finds nvcc and a libtorch with CUDA. Only while the library is loaded.
   */
  public static boolean hasCudaKernels() {
    return cudaKernels();
  }

  /**
   * The rotary embedding in Hugging Face's rotate-half layout, {@code x * cos + rotate_half(x) * sin}
   * with {@code rotate_half(x) = concat(-x2, x1)}, on q (B, nh, T, hd) and k (B, nkv, T, hd) in one CUDA
   * kernel, on the tape (its backward is one kernel too: the transposed rotation). The tables are (T, hd);
   * q, k and the tables are on one GPU. Results keep q's and k's strides (the (B, T, heads, hd) layout of
   * the projections stays as it is) and belong to q's manager: {q', k'}.
   */
  public static NDArray[] rotary(NDArray q, NDArray k, NDArray cos, NDArray sin) {
    long[] out = rotary(handle(q), handle(k), handle(cos), handle(sin));
    return new NDArray[] {wrap(q, out[0]), wrap(q, out[1])};
  }

  /**
   * RMSNorm fused with the residual add, one CUDA kernel each way, on the tape: {@code {out, sum}} with
   * {@code sum = x + residual} (rounded to x's dtype, as the separate add) and {@code out = sum /
   * sqrt(mean(sum^2, -1) + eps) * gain} (statistics in fp32). x and residual have one shape (..., n) and
   * dtype; gain is (n). Both results belong to x's manager.
   */
  public static NDArray[] addRmsNorm(NDArray x, NDArray residual, NDArray gain, double eps) {
    long[] out = addRmsNorm(handle(x), handle(residual), handle(gain), eps);
    return new NDArray[] {wrap(x, out[0]), wrap(x, out[1])};
  }

  /**
   * {@code sum_i bits(w_i) (2i + 1)} modulo 2^64 over a float32 tensor's raw bits, computed where the
   * tensor lives (see {@code WeightsChecksum}).
   */
  public static long bitSum(NDArray w) {
    return bitSum(handle(w));
  }

  /**
   * {@link #bitSum} of each array (all on one device), brought to the host by one copy: a checksum
   * of every parameter waits for the device once, not once per parameter.
   */
  public static long[] bitSums(java.util.List<NDArray> ws) {
    return bitSums(ws.stream().mapToLong(NativeKernels::handle).toArray());
  }

  /** The float32 sum of each array (all on one device), brought to the host by one copy. */
  public static float[] sums(java.util.List<NDArray> ws) {
    return sums(ws.stream().mapToLong(NativeKernels::handle).toArray());
  }

  /**
   * Makes the calling thread's work on CUDA device {@code device} run on the process's side stream of
   * that device and priority (high, or the default stream's); false when the process has no CUDA (nothing
   * changed).
   */
  static boolean sideStream(int device, boolean high) {
    return useSideStream(device, high);
  }

  /** Torch's deterministic algorithms for the whole process, strict (see orthoslice_kernels.cpp), or torch's defaults. */
  static void deterministicAlgorithms(boolean on) {
    deterministic(on);
  }

  private static long handle(NDArray a) {
    return ((PtNDArray) a).getHandle();
  }

  private static NDArray wrap(NDArray like, long handle) {
    return new PtNDArray((PtNDManager) like.getManager(), handle);
  }
}
