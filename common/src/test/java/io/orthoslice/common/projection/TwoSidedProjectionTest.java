package io.orthoslice.common.projection;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import org.junit.jupiter.api.Test;

class TwoSidedProjectionTest {

  @Test
  void projectIsLeftTransposeTimesGTimesRightAndLiftIsItsAdjoint() {
    int m = 6;
    int n = 5;
    int r = 3;
    double[] g = RowMajor.gaussian(4, m * n);
    try (NDManager nd = NDManager.newBaseManager();
        TwoSidedProjection t =
            TwoSidedProjection.random(
                ProjectionKind.GAUSSIAN, 1, 2, m, n, r, nd, DataType.FLOAT64)) {
      double[] pl = t.left().toDoubleArray();
      double[] pr = t.right().toDoubleArray();
      NDArray reduced = t.project(nd.create(g, new Shape(m, n)));
      assertEquals(new Shape(r, r), reduced.getShape());
      double[] expected =
          RowMajor.mul(RowMajor.mul(RowMajor.transpose(pl, m, r), g, r, m, n), pr, r, n, r);
      assertTrue(RowMajor.maxAbsDiff(expected, reduced.toDoubleArray()) < 1e-13);

      double[] u = RowMajor.gaussian(5, r * r);
      double[] lifted = t.lift(nd.create(u, new Shape(r, r))).toDoubleArray();
      double[] expectedLift =
          RowMajor.mul(RowMajor.mul(pl, u, m, r, r), RowMajor.transpose(pr, n, r), m, r, n);
      assertTrue(RowMajor.maxAbsDiff(expectedLift, lifted) < 1e-13);
    }
  }

  @Test
  void fullRankSvdFactorsReproduceTheGradient() {
    int m = 4;
    int n = 4;
    double[] g = RowMajor.gaussian(6, m * n);
    try (NDManager nd = NDManager.newBaseManager();
        TwoSidedProjection t = TwoSidedProjection.svd(g, m, n, 4, nd, DataType.FLOAT64)) {
      double[] back = t.lift(t.project(nd.create(g, new Shape(m, n)))).toDoubleArray();
      assertTrue(RowMajor.maxAbsDiff(g, back) < 1e-12);
      assertEquals(4, t.rank());
    }
  }

  @Test
  void factorsOfDifferentRankAreRejected() {
    try (NDManager nd = NDManager.newBaseManager()) {
      assertThrows(
          IllegalArgumentException.class,
          () -> new TwoSidedProjection(nd.zeros(new Shape(4, 2)), nd.zeros(new Shape(3, 3))));
    }
  }
}
