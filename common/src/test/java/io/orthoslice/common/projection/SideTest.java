package io.orthoslice.common.projection;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import org.junit.jupiter.api.Test;

class SideTest {

  @Test
  void tallAndSquareMatricesProjectOnTheRightWideOnesOnTheLeft() {
    assertEquals(Side.RIGHT, Side.forShape(2048, 512));
    assertEquals(Side.RIGHT, Side.forShape(512, 512));
    assertEquals(Side.LEFT, Side.forShape(512, 1376));
    assertThrows(IllegalArgumentException.class, () -> Side.forShape(0, 3));
  }

  @Test
  void dimensionAndReducedShapeFollowTheSide() {
    assertEquals(3, Side.RIGHT.dimension(5, 3));
    assertArrayEquals(new long[] {5, 2}, Side.RIGHT.reducedShape(5, 3, 2));
    assertEquals(3, Side.LEFT.dimension(3, 5));
    assertArrayEquals(new long[] {2, 5}, Side.LEFT.reducedShape(3, 5, 2));
  }

  @Test
  void projectAndLiftComputeGpAndPr() {
    int m = 5;
    int n = 3;
    int r = 2;
    double[] g = RowMajor.gaussian(1, m * n);
    double[] pr = RowMajor.gaussian(2, n * r);
    double[] pl = RowMajor.gaussian(3, m * r);
    try (NDManager nd = NDManager.newBaseManager()) {
      NDArray gArr = nd.create(g, new Shape(m, n));
      NDArray right = Side.RIGHT.project(gArr, nd.create(pr, new Shape(n, r)));
      assertArrayEquals(RowMajor.mul(g, pr, m, n, r), right.toDoubleArray(), 1e-14);
      NDArray left = Side.LEFT.project(gArr, nd.create(pl, new Shape(m, r)));
      assertEquals(new Shape(r, n), left.getShape());
      assertArrayEquals(
          RowMajor.mul(RowMajor.transpose(pl, m, r), g, r, m, n), left.toDoubleArray(), 1e-14);

      NDArray liftedRight = Side.RIGHT.lift(right, nd.create(pr, new Shape(n, r)));
      double[] expectRight =
          RowMajor.mul(right.toDoubleArray(), RowMajor.transpose(pr, n, r), m, r, n);
      assertArrayEquals(expectRight, liftedRight.toDoubleArray(), 1e-14);
      NDArray liftedLeft = Side.LEFT.lift(left, nd.create(pl, new Shape(m, r)));
      assertArrayEquals(
          RowMajor.mul(pl, left.toDoubleArray(), m, r, n), liftedLeft.toDoubleArray(), 1e-14);
      assertSame(nd, liftedLeft.getManager());
    }
  }
}
