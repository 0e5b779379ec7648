package io.orthoslice.common.round;

import ai.djl.ndarray.NDArray;
import io.orthoslice.common.kernels.Kernels;
import io.orthoslice.common.kernels.NativeKernels;
import io.orthoslice.common.model.LlamaConfig;
import io.orthoslice.common.model.ParameterSpec;
import java.util.Map;
import java.util.stream.IntStream;

/**
 * A 64-bit checksum of a whole set of float32 weights that any device computes alike: the coordinator
 * sends it with every round update, and a worker compares it with the weights it rebuilt, so a
 * difference costs a full fetch instead of a silent divergence.
 *
 * <p>The definition is integer arithmetic modulo 2^64, so the order of the additions does not matter
 * and a GPU reduction gives the host's value: for parameter p (model order) with raw float32 bits
 * {@code b_i} read as signed 32-bit integers, {@code s_p = sum_i b_i (2i + 1)}; then {@code h = h M +
 * s_p + n_p} over the parameters, from {@code h = 0}, with {@code M} the odd constant below and
 * {@code n_p} the element count. One changed value always changes {@code s_p}: the difference of its
 * bits times an odd number is never 0 modulo 2^64.
 */
public final class WeightsChecksum {

  /** An odd multiplier (2^64 over the golden ratio): consecutive parameters mix, none cancels another. */
  static final long MIX = 0x9E3779B97F4A7C15L;
  /** Values per task of the host sum (large arrays split over the common pool). */
  private static final int CHUNK = 1 << 20;

  private WeightsChecksum() {}

  /** @throws IllegalArgumentException when a parameter is missing or has the wrong length */
  public static long of(LlamaConfig model, Map<String, float[]> weights) {
    long h = 0;
    for (ParameterSpec p : model.parameters()) {
      float[] v = weights.get(p.name());
      long n = p.numel();
      if (v == null || v.length != n) {
        throw new IllegalArgumentException(p.name() + ": expected " + n + " values, got "
            + (v == null ? "none" : v.length));
      }
      h = h * MIX + bitSum(v) + n;
    }
    return h;
  }

  /**
   * The same checksum of weights held as float32 arrays on any device: on the device itself with the
   * native kernels loaded (no copy to the host), else over a host copy of one parameter at a time.
   */
  public static long ofArrays(LlamaConfig model, Map<String, NDArray> weights) {
    java.util.List<ParameterSpec> params = model.parameters();
    java.util.List<NDArray> arrays = new java.util.ArrayList<>(params.size());
    for (ParameterSpec p : params) {
      NDArray a = weights.get(p.name());
      if (a == null || a.size() != p.numel() || a.getDataType() != ai.djl.ndarray.types.DataType.FLOAT32) {
        throw new IllegalArgumentException(p.name() + ": expected " + p.numel() + " float32 values, got "
            + (a == null ? "none" : a.size() + " " + a.getDataType()));
      }
      arrays.add(a);
    }
    // On the device, every term at once (one wait for the device, not one per parameter).
    long[] terms = Kernels.loaded() ? NativeKernels.bitSums(arrays) : null;
    long h = 0;
    for (int i = 0; i < params.size(); i++) {
      h = h * MIX + (terms != null ? terms[i] : bitSum(arrays.get(i).toFloatArray())) + params.get(i).numel();
    }
    return h;
  }

  /** {@code sum_i bits(v_i) (2i + 1)} modulo 2^64: one parameter's term. */
  public static long bitSum(float[] v) {
    int chunks = (v.length + CHUNK - 1) / CHUNK;
    IntStream range = IntStream.range(0, chunks);
    return (chunks > 4 ? range.parallel() : range).mapToLong(c -> {
      long s = 0;
      int end = Math.min(v.length, (c + 1) * CHUNK);
      for (int i = c * CHUNK; i < end; i++) {
        s += (long) Float.floatToRawIntBits(v[i]) * (2L * i + 1);
      }
      return s;
    }).sum();
  }
}
