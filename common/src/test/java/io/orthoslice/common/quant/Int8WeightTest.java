package io.orthoslice.common.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class Int8WeightTest {

  private static final int ROWS = 37;
  private static final int COLS = 50;
  private NDManager nd;

  @BeforeEach
  void open() {
    nd = NDManager.newBaseManager();
  }

  @AfterEach
  void close() {
    nd.close();
  }

  /** Rows of very different magnitudes, one all-zero row. */
  private float[] weights(long seed) {
    SplittableRandom rng = new SplittableRandom(seed);
    float[] w = new float[ROWS * COLS];
    for (int i = 0; i < ROWS; i++) {
      double rowScale = i == 3 ? 0 : Math.pow(10, rng.nextDouble() * 4 - 3);
      for (int j = 0; j < COLS; j++) {
        w[i * COLS + j] = (float) (rowScale * (rng.nextDouble() * 2 - 1));
      }
    }
    return w;
  }

  @Test
  void everyElementIsWithinHalfItsRowScale() {
    float[] w = weights(1);
    try (Int8Weight q = Int8Weight.quantize(nd.create(w, new Shape(ROWS, COLS)), nd)) {
      float[] back = q.dequantize(nd, DataType.FLOAT32).toFloatArray();
      float[] scales = q.scales().toFloatArray();
      for (int i = 0; i < ROWS; i++) {
        float absmax = 0;
        double worst = 0;
        for (int j = 0; j < COLS; j++) {
          absmax = Math.max(absmax, Math.abs(w[i * COLS + j]));
          worst = Math.max(worst, Math.abs(w[i * COLS + j] - back[i * COLS + j]));
        }
        assertEquals(absmax / 127f, scales[i], 0f);
        assertTrue(
            worst <= scales[i] / 2 + 1e-6 * absmax,
            "row " + i + ": " + worst + " > " + scales[i] / 2);
      }
      for (int j = 0; j < COLS; j++) {
        assertEquals(0f, back[3 * COLS + j], 0f); // the all-zero row stays exactly zero
      }
    }
  }

  @Test
  void storedBytesAreOneBytePerElementPlusOneFloatPerRow() {
    try (Int8Weight q = Int8Weight.quantize(nd.create(weights(2), new Shape(ROWS, COLS)), nd)) {
      assertEquals((long) ROWS * COLS + 4L * ROWS, q.storedBytes());
      assertEquals(DataType.INT8, q.codes().getDataType());
      assertEquals("int8", q.format());
    }
  }

  @Test
  void dequantizeKeepsTheShapeAndGivesTheRequestedTypeOnTheGivenManager() {
    NDManager store = nd.newSubManager();
    try (Int8Weight q = Int8Weight.quantize(nd.create(weights(3), new Shape(ROWS, COLS)), store);
        NDManager target = nd.newSubManager()) {
      NDArray w64 = q.dequantize(target, DataType.FLOAT64);
      assertEquals(new Shape(ROWS, COLS), w64.getShape());
      assertEquals(DataType.FLOAT64, w64.getDataType());
      assertSame(target, w64.getManager());
      assertEquals(1, target.getManagedArrays().size()); // no temporaries left behind
      assertEquals(2, store.getManagedArrays().size()); // codes and scales only
      NDArray w16 = q.dequantize(target, DataType.FLOAT16);
      assertEquals(DataType.FLOAT16, w16.getDataType());
      assertArrayEquals(
          q.dequantize(target, DataType.FLOAT32).toFloatArray(),
          w64.toType(DataType.FLOAT32, false).toFloatArray(),
          0f);
    }
  }

  @Test
  void quantizingTwiceGivesIdenticalCodes() {
    NDArray w = nd.create(weights(4), new Shape(ROWS, COLS));
    try (Int8Weight a = Int8Weight.quantize(w, nd);
        Int8Weight b = Int8Weight.quantize(w, nd)) {
      assertArrayEquals(a.codes().toByteArray(), b.codes().toByteArray());
      assertArrayEquals(a.scales().toFloatArray(), b.scales().toFloatArray(), 0f);
    }
  }

  @Test
  void nonMatricesAreRejected() {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class, () -> Int8Weight.quantize(nd.zeros(new Shape(8)), nd));
    assertEquals("INT8 weight must be a matrix (2-D), got shape (8)", e.getMessage());
  }
}
