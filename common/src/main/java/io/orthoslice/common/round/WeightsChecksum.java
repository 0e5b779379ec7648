package io.orthoslice.common.round;

import io.orthoslice.common.model.LlamaConfig;
import io.orthoslice.common.model.ParameterSpec;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Map;
import java.util.zip.CRC32C;

/**
 * CRC32C of a whole set of weights: the little-endian float32 bytes of every parameter in the
 * model's order. The coordinator sends it with a factored round update; a worker that rebuilt the
 * merge on its own compares it with the bits it got, so a difference (another BLAS, another device)
 * costs a full fetch instead of a silent divergence.
 */
public final class WeightsChecksum {

  private WeightsChecksum() {}

  /** @throws IllegalArgumentException when a parameter is missing or has the wrong length */
  public static int of(LlamaConfig model, Map<String, float[]> weights) {
    CRC32C crc = new CRC32C();
    ByteBuffer b = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
    for (ParameterSpec p : model.parameters()) {
      float[] v = weights.get(p.name());
      long n = p.numel();
      if (v == null || v.length != n) {
        throw new IllegalArgumentException(p.name() + ": expected " + n + " values, got "
            + (v == null ? "none" : v.length));
      }
      for (int i = 0; i < v.length; ) {
        int len = Math.min(v.length - i, b.capacity() / Float.BYTES);
        b.clear();
        b.asFloatBuffer().put(v, i, len);
        b.limit(len * Float.BYTES);
        crc.update(b);
        i += len;
      }
    }
    return (int) crc.getValue();
  }
}
