package io.orthoslice.common.round;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.orthoslice.common.model.LlamaConfig;
import io.orthoslice.common.model.ParameterSpec;
import io.orthoslice.common.tensor.HostArrays;
import java.math.BigInteger;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The checksum against its definition in exact integers, and what it notices. */
class WeightsChecksumTest {

  static final LlamaConfig SMALL = new LlamaConfig(12, 8, 16, 1, 2, 2, 16, 1e-6, 10000.0, false, 0.02);
  private static final BigInteger MOD = BigInteger.ONE.shiftLeft(64);

  /** The definition, term by term in arbitrary precision. */
  static long reference(LlamaConfig model, Map<String, float[]> w) {
    BigInteger h = BigInteger.ZERO;
    for (ParameterSpec p : model.parameters()) {
      float[] v = w.get(p.name());
      BigInteger s = BigInteger.ZERO;
      for (int i = 0; i < v.length; i++) {
        s = s.add(BigInteger.valueOf(Float.floatToRawIntBits(v[i])).multiply(BigInteger.valueOf(2L * i + 1)));
      }
      h = h.multiply(BigInteger.valueOf(WeightsChecksum.MIX)).add(s).add(BigInteger.valueOf(p.numel())).mod(MOD);
    }
    return h.longValue();
  }

  static Map<String, float[]> random(LlamaConfig model, long seed) {
    Random rng = new Random(seed);
    Map<String, float[]> w = new LinkedHashMap<>();
    for (ParameterSpec p : model.parameters()) {
      float[] v = new float[(int) p.numel()];
      for (int i = 0; i < v.length; i++) {
        v[i] = (float) rng.nextGaussian();
      }
      w.put(p.name(), v);
    }
    return w;
  }

  @Test
  void itIsItsDefinitionOnTheHostAndOnDjlArrays() {
    Map<String, float[]> w = random(SMALL, 3);
    w.values().iterator().next()[0] = Float.NaN;
    long expected = reference(SMALL, w);
    assertEquals(expected, WeightsChecksum.of(SMALL, w));
    try (NDManager m = NDManager.newBaseManager(Device.cpu())) {
      Map<String, NDArray> arrays = new LinkedHashMap<>();
      for (ParameterSpec p : SMALL.parameters()) {
        arrays.put(p.name(), HostArrays.of(m, w.get(p.name()), new Shape(p.shape())));
      }
      assertEquals(expected, WeightsChecksum.ofArrays(SMALL, arrays));
    }
  }

  @Test
  void theParallelSumOfALargeArrayIsTheSerialOne() {
    float[] v = new float[(5 << 20) + 17]; // six chunks: the parallel path
    Random rng = new Random(5);
    for (int i = 0; i < v.length; i++) {
      v[i] = rng.nextFloat() * 1e6f - 5e5f;
    }
    long serial = 0;
    for (int i = 0; i < v.length; i++) {
      serial += (long) Float.floatToRawIntBits(v[i]) * (2L * i + 1);
    }
    assertEquals(serial, WeightsChecksum.bitSum(v));
  }

  @Test
  void everySingleBitFlipAndEverySwapOfTwoValuesIsNoticed() {
    Map<String, float[]> w = random(SMALL, 9);
    long before = WeightsChecksum.of(SMALL, w);
    for (float[] v : w.values()) {
      for (int i = 0; i < v.length; i += 7) {
        for (int bit = 0; bit < 32; bit += 5) {
          float was = v[i];
          v[i] = Float.intBitsToFloat(Float.floatToRawIntBits(was) ^ (1 << bit));
          assertNotEquals(before, WeightsChecksum.of(SMALL, w), "bit " + bit + " of element " + i);
          v[i] = was;
        }
      }
      float a = v[0];
      v[0] = v[1];
      v[1] = a;
      assertNotEquals(before, WeightsChecksum.of(SMALL, w), "two values swapped");
      v[1] = v[0];
      v[0] = a;
    }
    assertEquals(before, WeightsChecksum.of(SMALL, w));
  }

  @Test
  void aMissingOrMisSizedParameterIsNamed() {
    Map<String, float[]> w = random(SMALL, 1);
    String first = SMALL.parameters().get(0).name();
    w.put(first, new float[3]);
    assertEquals(first + ": expected " + SMALL.parameters().get(0).numel() + " values, got 3",
        assertThrows(IllegalArgumentException.class, () -> WeightsChecksum.of(SMALL, w)).getMessage());
  }
}
