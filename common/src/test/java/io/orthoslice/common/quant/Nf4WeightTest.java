package io.orthoslice.common.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class Nf4WeightTest {

  private NDManager nd;

  @BeforeEach
  void open() {
    nd = NDManager.newBaseManager();
  }

  @AfterEach
  void close() {
    nd.close();
  }

  private static float[] normal(long seed, int count) {
    SplittableRandom rng = new SplittableRandom(seed);
    float[] w = new float[count];
    for (int i = 0; i < count; i += 2) {
      double r = Math.sqrt(-2 * Math.log(1 - rng.nextDouble()));
      double a = 2 * Math.PI * rng.nextDouble();
      w[i] = (float) (0.02 * r * Math.cos(a));
      if (i + 1 < count) {
        w[i + 1] = (float) (0.02 * r * Math.sin(a));
      }
    }
    return w;
  }

  private static double largestHalfGap() {
    double gap = 0;
    for (int k = 1; k < Nf4Weight.CODE_BOOK.length; k++) {
      gap = Math.max(gap, Nf4Weight.CODE_BOOK[k] - Nf4Weight.CODE_BOOK[k - 1]);
    }
    return gap / 2;
  }

  private static void assertWithinBound(float[] w, float[] back) {
    double halfGap = largestHalfGap();
    for (int b = 0; b * Nf4Weight.BLOCK < w.length; b++) {
      int start = b * Nf4Weight.BLOCK;
      int end = Math.min(w.length, start + Nf4Weight.BLOCK);
      float absmax = 0;
      for (int i = start; i < end; i++) {
        absmax = Math.max(absmax, Math.abs(w[i]));
      }
      for (int i = start; i < end; i++) {
        double err = Math.abs(w[i] - back[i]);
        assertTrue(err <= halfGap * absmax * (1 + 1e-6), "element " + i + ": " + err);
      }
    }
  }

  @Test
  void errorIsBoundedByHalfTheLargestCodeGapTimesTheBlockAbsmax() {
    float[] w = normal(1, 8 * 96);
    try (Nf4Weight q = Nf4Weight.quantize(nd.create(w, new Shape(8, 96)), nd)) {
      assertWithinBound(w, q.dequantize(nd, DataType.FLOAT32).toFloatArray());
    }
  }

  @Test
  void codeBookValuesTimesTheBlockScaleComeBackExactly() {
    float[] w = new float[128];
    for (int i = 0; i < w.length; i++) {
      w[i] = Nf4Weight.CODE_BOOK[(i * 7) % 16] * 2.5f;
    }
    try (Nf4Weight q = Nf4Weight.quantize(nd.create(w, new Shape(2, 64)), nd)) {
      assertArrayEquals(w, q.dequantize(nd, DataType.FLOAT32).toFloatArray(), 0f);
    }
  }

  @Test
  void elementCountsThatAreNotAMultipleOf64PadTheLastBlock() {
    float[] w = normal(2, 65);
    try (Nf4Weight q = Nf4Weight.quantize(nd.create(w, new Shape(5, 13)), nd)) {
      assertEquals(64 + 2 * 4, q.storedBytes()); // 2 blocks: 64 packed bytes, 2 float32 scales
      NDArray back = q.dequantize(nd, DataType.FLOAT64);
      assertEquals(new Shape(5, 13), back.getShape());
      assertEquals(DataType.FLOAT64, back.getDataType());
      assertWithinBound(w, back.toType(DataType.FLOAT32, false).toFloatArray());
      // The lone element of the last block is its own absmax, so it is stored exactly.
      assertEquals(w[64], (float) back.toDoubleArray()[64], 0f);
    }
  }

  @Test
  void storedBytesAreHalfAPerElementPlusOneFloatPerBlock() {
    try (Nf4Weight q = Nf4Weight.quantize(nd.create(normal(3, 64 * 64), new Shape(64, 64)), nd)) {
      assertEquals(64 * 64 / 2 + 64 * 4, q.storedBytes());
      assertEquals(DataType.UINT8, q.packed().getDataType());
      assertEquals("nf4", q.format());
    }
  }

  @Test
  void theFirstElementOfAPairGoesInTheHighNibble() {
    float[] w = new float[64];
    w[0] = 1f; // code 15
    w[1] = -1f; // code 0
    try (Nf4Weight q = Nf4Weight.quantize(nd.create(w, new Shape(64)), nd)) {
      int[] bytes = q.packed().toUint8Array();
      assertEquals(0xF0, bytes[0]);
      assertEquals(0x77, bytes[1]); // two zeros: code 7 each
    }
  }

  @Test
  void quantizingIsDeterministicAndDequantizingLeavesNoTemporaries() {
    NDArray w = nd.create(normal(4, 256), new Shape(4, 64));
    NDManager store = nd.newSubManager();
    try (Nf4Weight a = Nf4Weight.quantize(w, store);
        Nf4Weight b = Nf4Weight.quantize(w, nd);
        NDManager target = nd.newSubManager()) {
      assertArrayEquals(a.packed().toUint8Array(), b.packed().toUint8Array());
      assertArrayEquals(a.scales().toFloatArray(), b.scales().toFloatArray(), 0f);
      NDArray back = a.dequantize(target, DataType.FLOAT32);
      assertSame(target, back.getManager());
      assertEquals(1, target.getManagedArrays().size()); // no temporaries left behind
      assertEquals(2, store.getManagedArrays().size()); // packed codes and scales only
    }
  }
}
