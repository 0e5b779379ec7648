package io.orthoslice.common.projection;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class ProjectorTest {

  @Test
  void gaussianEntriesHaveVarianceOneOverRank() {
    int r = 64;
    double[] p = Projector.random(ProjectionKind.GAUSSIAN, 11, 4096, r);
    double mean = Arrays.stream(p).average().orElseThrow();
    double var = Arrays.stream(p).map(x -> (x - mean) * (x - mean)).sum() / p.length;
    // sd of the sample variance is (1/64) sqrt(2/262144) ~ 4.3e-5; allow 7 of them.
    assertEquals(1.0 / r, var, 3e-4);
    assertEquals(0.0, mean, 1e-3);
  }

  @Test
  void rademacherEntriesAreExactlyPlusOrMinusOneOverSqrtRank() {
    int r = 16;
    double[] p = Projector.random(ProjectionKind.RADEMACHER, 5, 1024, r);
    int plus = 0;
    for (double x : p) {
      assertEquals(0.25, Math.abs(x), 0.0);
      plus += x > 0 ? 1 : 0;
    }
    assertEquals(p.length / 2.0, plus, 5 * Math.sqrt(p.length) / 2);
  }

  @Test
  void orthogonalKindHasOrthonormalColumnsAndNonNegativeRDiagonal() {
    int d = 40;
    int r = 12;
    double[] p = Projector.random(ProjectionKind.ORTHOGONAL, 9, d, r);
    assertTrue(RowMajor.orthonormalityError(p, d, r) < 1e-12);
    // Sign fix: R = Q^T Z must have a non-negative diagonal, where Z is the Gaussian that was
    // drawn.
    PortableRandom rng = new PortableRandom(9);
    double[] z = new double[d * r];
    for (int i = 0; i < z.length; i++) {
      z[i] = rng.nextGaussian();
    }
    double[] rr = RowMajor.mul(RowMajor.transpose(p, d, r), z, r, d, r);
    for (int j = 0; j < r; j++) {
      assertTrue(rr[j * r + j] > 0, "diag(R)[" + j + "] = " + rr[j * r + j]);
    }
  }

  @Test
  void sameSeedRepeatsBitwiseAndOtherSeedsDiffer() {
    for (ProjectionKind kind :
        new ProjectionKind[] {
          ProjectionKind.GAUSSIAN, ProjectionKind.RADEMACHER, ProjectionKind.ORTHOGONAL
        }) {
      assertArrayEquals(Projector.random(kind, 3, 30, 5), Projector.random(kind, 3, 30, 5), 0.0);
      assertFalse(
          Arrays.equals(Projector.random(kind, 3, 30, 5), Projector.random(kind, 4, 30, 5)));
    }
  }

  @Test
  void svdReturnsTheTopSingularVectorsSortedAndSignFixed() {
    int m = 6;
    int n = 4;
    double[] u = Projector.random(ProjectionKind.ORTHOGONAL, 1, m, n);
    double[] v = Projector.random(ProjectionKind.ORTHOGONAL, 2, n, n);
    double[] s = {2, 5, 0.5, 3}; // deliberately unsorted: the top two are columns 1 and 3
    double[] us = u.clone();
    for (int i = 0; i < m; i++) {
      for (int j = 0; j < n; j++) {
        us[i * n + j] *= s[j];
      }
    }
    double[] g = RowMajor.mul(us, RowMajor.transpose(v, n, n), m, n, n);

    assertArrayEquals(
        signFixedColumns(v, n, n, 1, 3), Projector.svd(g, m, n, 2, Side.RIGHT), 1e-12);
    assertArrayEquals(signFixedColumns(u, m, n, 1, 3), Projector.svd(g, m, n, 2, Side.LEFT), 1e-12);
  }

  @Test
  void rankAboveTheDimensionIsRejectedWithAClearMessage() {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> Projector.random(ProjectionKind.GAUSSIAN, 1, 4, 5));
    assertEquals("rank r must be in [1, d = 4], got 5", e.getMessage());
    assertThrows(
        IllegalArgumentException.class, () -> Projector.svd(new double[12], 3, 4, 4, Side.LEFT));
    assertThrows(
        IllegalArgumentException.class, () -> Projector.random(ProjectionKind.SVD, 1, 4, 2));
  }

  @Test
  void parseAcceptsAnyCaseAndListsTheAllowedNames() {
    assertEquals(ProjectionKind.ORTHOGONAL, ProjectionKind.parse("Orthogonal"));
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> ProjectionKind.parse("sketch"));
    assertEquals(
        "projection kind must be one of gaussian, rademacher, orthogonal, svd, got 'sketch'",
        e.getMessage());
  }

  @Test
  void seededKindsPersistOnlyTheSeedWhileSvdPersistsTheMatrix() {
    assertEquals(8, ProjectionKind.GAUSSIAN.persistedBytes(2048, 256, 4));
    assertEquals(8, ProjectionKind.ORTHOGONAL.persistedBytes(2048, 256, 4));
    assertEquals(2048L * 256 * 4, ProjectionKind.SVD.persistedBytes(2048, 256, 4));
    assertEquals(16 + 0, TwoSidedProjection.persistedBytes(ProjectionKind.RADEMACHER, 8, 6, 2, 4));
    assertEquals(
        (8 + 6) * 2 * 2, TwoSidedProjection.persistedBytes(ProjectionKind.SVD, 8, 6, 2, 2));
  }

  @Test
  void ndArrayConversionRoundTripsInFloat64AndCastsToOtherTypes() {
    double[] p = Projector.random(ProjectionKind.GAUSSIAN, 8, 7, 3);
    try (NDManager nd = NDManager.newBaseManager()) {
      NDArray a = Projector.toNDArray(nd, p, 7, 3, DataType.FLOAT64);
      assertArrayEquals(p, Projector.toDoubleArray(a), 0.0);
      NDArray f = Projector.toNDArray(nd, p, 7, 3, DataType.FLOAT32);
      assertEquals(DataType.FLOAT32, f.getDataType());
      assertArrayEquals(p, Projector.toDoubleArray(f), 1e-6);
      assertEquals(2, nd.getManagedArrays().size());
    }
  }

  /**
   * Columns {@code cols} of a (rows x width), each flipped so its largest-magnitude entry is
   * positive.
   */
  private static double[] signFixedColumns(double[] a, int rows, int width, int... cols) {
    double[] out = new double[rows * cols.length];
    for (int c = 0; c < cols.length; c++) {
      int arg = 0;
      for (int i = 1; i < rows; i++) {
        if (Math.abs(a[i * width + cols[c]]) > Math.abs(a[arg * width + cols[c]])) {
          arg = i;
        }
      }
      double sign = Math.signum(a[arg * width + cols[c]]);
      for (int i = 0; i < rows; i++) {
        out[i * cols.length + c] = sign * a[i * width + cols[c]];
      }
    }
    return out;
  }
}
