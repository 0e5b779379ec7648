package io.orthoslice.common.wire;

import io.orthoslice.common.config.WirePrecision;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Every wire precision round-trips within its stated error, and a malformed int8 pair is refused. */
class TensorEncodingTest {

  private static float[] random(long seed, int n, double scale) {
    Random rng = new Random(seed);
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) (rng.nextGaussian() * scale * (1 + i % 5)); // rows of different magnitudes
    }
    return v;
  }

  private static Map<String, WireTensor> byName(List<WireTensor> ts) {
    Map<String, WireTensor> m = new LinkedHashMap<>();
    ts.forEach(t -> m.put(t.name(), t));
    return m;
  }

  @Test
  void f32IsExactF16IsWithinHalfAnUlpAndInt8WithinHalfAStepOfItsRow() {
    long[] shape = {6, 35};
    float[] v = random(1, 210, 1e-3);
    v[7] = 0;
    assertArrayEquals(v, TensorEncoding.roundTrip("w", v, shape, WirePrecision.F32));

    float[] h = TensorEncoding.roundTrip("w", v, shape, WirePrecision.F16);
    for (int i = 0; i < v.length; i++) {
      // fp16 keeps 11 significant bits, and below 2^-14 a fixed step of 2^-24 (subnormals).
      assertEquals(v[i], h[i], Math.max(Math.abs(v[i]) * 0x1p-11, 0x1p-25), "element " + i);
    }

    List<WireTensor> q = TensorEncoding.encode("w", v, shape, WirePrecision.INT8);
    assertEquals(2, q.size());
    assertEquals(WireDType.I8, q.get(0).dtype());
    assertEquals("w" + Protocol.SCALE_SUFFIX, q.get(1).name());
    float[] scales = q.get(1).toFloats();
    float[] d = TensorEncoding.decode(byName(q)).get("w");
    for (int r = 0; r < 6; r++) {
      float max = 0;
      for (int c = 0; c < 35; c++) {
        max = Math.max(max, Math.abs(v[r * 35 + c]));
      }
      assertEquals(max / 127f, scales[r], 0f, "row " + r);
      for (int c = 0; c < 35; c++) {
        int i = r * 35 + c;
        assertTrue(Math.abs(v[i] - d[i]) <= scales[r] / 2 * 1.0001f, "element " + i + ": " + v[i] + " -> " + d[i]);
      }
    }
    // Byte counts as the validator computes them: one byte per value plus a float per row.
    long sent = q.stream().mapToLong(t -> t.data().length).sum();
    assertEquals(TensorEncoding.bytes(shape, WirePrecision.INT8), sent);
    assertEquals(210 + 6 * 4, sent);
  }

  @Test
  void anAllZeroRowAndAVectorTravelAsInt8() {
    float[] zeros = new float[8];
    assertArrayEquals(zeros, TensorEncoding.roundTrip("z", zeros, new long[] {2, 4}, WirePrecision.INT8));
    float[] gains = {0.5f, -1f, 0.25f};
    float[] back = TensorEncoding.roundTrip("g", gains, new long[] {3}, WirePrecision.INT8);
    assertEquals(-1f, back[1], 0f); // the row's largest magnitude is exact
    assertEquals(0.5f, back[0], 1f / 127 / 2);
  }

  @Test
  void anInt8TensorWithoutFittingScalesOrScalesWithoutTheirTensorAreRefused() {
    List<WireTensor> q = TensorEncoding.encode("w", random(2, 12, 1), new long[] {3, 4}, WirePrecision.INT8);
    Map<String, WireTensor> noScales = byName(List.of(q.get(0)));
    assertTrue(assertThrows(WireFormatException.class, () -> TensorEncoding.decode(noScales)).getMessage()
        .contains("needs float32 scales w#scale of shape [3]"));
    Map<String, WireTensor> wrongRows = byName(List.of(q.get(0), WireTensor.ofFloats("w#scale", new float[2], 2)));
    assertThrows(WireFormatException.class, () -> TensorEncoding.decode(wrongRows));
    Map<String, WireTensor> orphan = byName(List.of(q.get(1)));
    assertTrue(assertThrows(WireFormatException.class, () -> TensorEncoding.decode(orphan)).getMessage()
        .contains("arrived without its tensor w"));
  }

  @Test
  void aSparseChangeKeepsItsLargestEntriesAndRefusesBadPositions() {
    long[] shape = {10, 30};
    float[] v = random(4, 300, 1e-2);
    for (WirePrecision p : List.of(WirePrecision.F16, WirePrecision.INT8)) {
      List<WireTensor> q = TensorEncoding.encode("w", v, shape, p, 0.1);
      Map<String, WireTensor> m = byName(q);
      assertEquals(30, m.get("w#idx").elementCount());
      float[] d = TensorEncoding.decode(m, n -> shape).get("w");
      float[] mags = new float[300];
      for (int i = 0; i < 300; i++) {
        mags[i] = Math.abs(v[i]);
      }
      float[] sorted = mags.clone();
      java.util.Arrays.sort(sorted);
      float threshold = sorted[300 - 30];
      int kept = 0;
      for (int i = 0; i < 300; i++) {
        if (mags[i] >= threshold) {
          kept++;
          assertEquals(v[i], d[i], Math.abs(v[i]) * 0.01f, p + " kept entry " + i);
        } else {
          assertEquals(0f, d[i], 0f, p + " dropped entry " + i);
        }
      }
      assertEquals(30, kept);
      long sent = q.stream().mapToLong(t -> t.data().length).sum();
      assertEquals(TensorEncoding.bytes(shape, p, 0.1), sent);
    }
    assertThrows(IllegalArgumentException.class, () -> TensorEncoding.encode("w", v, shape, WirePrecision.F32, 0.1));

    Map<String, WireTensor> m = byName(TensorEncoding.encode("w", v, shape, WirePrecision.INT8, 0.01));
    java.nio.ByteBuffer bad = java.nio.ByteBuffer.allocate(12).order(java.nio.ByteOrder.LITTLE_ENDIAN);
    bad.putInt(5).putInt(5).putInt(7); // not strictly increasing
    m.put("w#idx", new WireTensor("w#idx", WireDType.I32, new long[] {3}, bad.array()));
    assertTrue(assertThrows(WireFormatException.class, () -> TensorEncoding.decode(m, n -> shape)).getMessage()
        .contains("positions must increase strictly and lie in [0, 300)"));
    java.nio.ByteBuffer outside = java.nio.ByteBuffer.allocate(12).order(java.nio.ByteOrder.LITTLE_ENDIAN);
    outside.putInt(1).putInt(2).putInt(300);
    m.put("w#idx", new WireTensor("w#idx", WireDType.I32, new long[] {3}, outside.array()));
    assertThrows(WireFormatException.class, () -> TensorEncoding.decode(m, n -> shape));
    assertThrows(WireFormatException.class, () -> TensorEncoding.decode(m)); // no shape known
  }
}
