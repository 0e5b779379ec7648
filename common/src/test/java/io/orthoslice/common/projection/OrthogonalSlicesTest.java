package io.orthoslice.common.projection;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class OrthogonalSlicesTest {

  private NDManager nd;

  @BeforeEach
  void open() {
    nd = NDManager.newBaseManager();
  }

  @AfterEach
  void close() {
    nd.close();
  }

  @Test
  void slicesArePairwiseOrthogonalAndEachIsOrthonormal() {
    int d = 48;
    int workers = 4;
    int r = 8;
    double[] q = OrthogonalSlices.basis(SeedSequence.derive(5, 2, "w", 0), d, workers, r);
    for (int j = 0; j < workers; j++) {
      double[] pj = OrthogonalSlices.slice(q, d, workers, r, j);
      assertTrue(RowMajor.orthonormalityError(pj, d, r) < 1e-10);
      for (int k = j + 1; k < workers; k++) {
        double[] cross =
            RowMajor.mul(
                RowMajor.transpose(pj, d, r), OrthogonalSlices.slice(q, d, workers, r, k), r, d, r);
        assertTrue(
            Arrays.stream(cross).map(Math::abs).max().orElseThrow() < 1e-10,
            "P_" + j + "^T P_" + k);
      }
    }
  }

  @Test
  void plansRepeatBitwiseForTheSameSeedAndDifferAcrossSeedsAndRounds() {
    long seed = SeedSequence.derive(5, 2, "w", 0);
    assertArrayEquals(
        OrthogonalSlices.basis(seed, 20, 2, 4), OrthogonalSlices.basis(seed, 20, 2, 4), 0.0);
    assertFalse(
        Arrays.equals(
            OrthogonalSlices.basis(seed, 20, 2, 4),
            OrthogonalSlices.basis(SeedSequence.derive(5, 3, "w", 0), 20, 2, 4)));
    assertFalse(
        Arrays.equals(
            OrthogonalSlices.basis(seed, 20, 2, 4),
            OrthogonalSlices.basis(SeedSequence.derive(6, 2, "w", 0), 20, 2, 4)));
    assertArrayEquals(
        Projector.random(ProjectionKind.ORTHOGONAL, seed, 20, 8),
        OrthogonalSlices.basis(seed, 20, 2, 4),
        0.0);
  }

  @Test
  void mergeOfOrthogonalSlicesReproducesAFullRankUpdateOnTheRight() {
    int m = 7;
    int n = 6;
    int workers = 3;
    int r = 2; // workers * r = n: the slices span everything
    double[] dense = RowMajor.gaussian(21, m * n);
    double[] q = OrthogonalSlices.basis(77, n, workers, r);
    NDArray merged = mergeShares(dense, q, m, n, workers, r, Side.RIGHT);
    assertEquals(new Shape(m, n), merged.getShape());
    assertTrue(RowMajor.maxAbsDiff(dense, merged.toDoubleArray()) < 1e-10);
  }

  @Test
  void mergeOfOrthogonalSlicesReproducesAFullRankUpdateOnTheLeft() {
    int m = 4;
    int n = 9;
    int workers = 2;
    int r = 2;
    double[] dense = RowMajor.gaussian(22, m * n);
    double[] q = OrthogonalSlices.basis(78, m, workers, r);
    NDArray merged = mergeShares(dense, q, m, n, workers, r, Side.LEFT);
    assertTrue(RowMajor.maxAbsDiff(dense, merged.toDoubleArray()) < 1e-10);
  }

  @Test
  void mergeBelowFullRankIsTheProjectionOntoTheUnionOfSlices() {
    int m = 9;
    int n = 8;
    int workers = 3;
    int r = 2; // 6 < 8
    double[] dense = RowMajor.gaussian(23, m * n);
    double[] q = OrthogonalSlices.basis(79, n, workers, r);
    NDArray merged = mergeShares(dense, q, m, n, workers, r, Side.RIGHT);
    int w = workers * r;
    double[] expected =
        RowMajor.mul(RowMajor.mul(dense, q, m, n, w), RowMajor.transpose(q, n, w), m, w, n);
    assertTrue(RowMajor.maxAbsDiff(expected, merged.toDoubleArray()) < 1e-10);
    assertTrue(RowMajor.maxAbsDiff(dense, merged.toDoubleArray()) > 0.1);

    double[] ql = OrthogonalSlices.basis(80, m, workers, r);
    NDArray mergedLeft = mergeShares(dense, ql, m, n, workers, r, Side.LEFT);
    double[] expectedLeft =
        RowMajor.mul(RowMajor.mul(ql, RowMajor.transpose(ql, m, w), m, w, m), dense, m, m, n);
    assertTrue(RowMajor.maxAbsDiff(expectedLeft, mergedLeft.toDoubleArray()) < 1e-10);
  }

  @Test
  void meanMergeWithOneSharedProjectorLiftsTheMeanFactor() {
    int m = 5;
    int n = 4;
    int r = 2;
    NDArray p =
        Projector.toNDArray(
            nd, Projector.random(ProjectionKind.GAUSSIAN, 4, n, r), n, r, DataType.FLOAT64);
    NDArray a1 = nd.create(RowMajor.gaussian(1, m * r), new Shape(m, r));
    NDArray a2 = nd.create(RowMajor.gaussian(2, m * r), new Shape(m, r));
    NDArray merged = OrthogonalSlices.mergeMean(List.of(a1, a2), List.of(p, p), Side.RIGHT);
    NDArray expected = Side.RIGHT.lift(a1.add(a2).div(2), p);
    assertTrue(RowMajor.maxAbsDiff(expected.toDoubleArray(), merged.toDoubleArray()) < 1e-14);
    assertEquals(nd, p.getManager()); // attaching the shared P twice must not lose its owner
  }

  @Test
  void tooManySlicesForTheDimensionAreRejected() {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> OrthogonalSlices.basis(1, 10, 3, 4));
    assertEquals(
        "workers*r must be <= d for orthogonal slices, got 3*4 = 12 > d = 10", e.getMessage());
    assertThrows(
        IllegalArgumentException.class, () -> OrthogonalSlices.slice(new double[20], 10, 2, 1, 2));
  }

  /** Each worker's share of a dense update (B_k = D P_k or B_k = P_k^T D), merged back. */
  private NDArray mergeShares(
      double[] dense, double[] q, int m, int n, int workers, int r, Side side) {
    int d = side.dimension(m, n);
    NDArray full = nd.create(dense, new Shape(m, n));
    List<NDArray> factors = new ArrayList<>();
    List<NDArray> projectors = new ArrayList<>();
    for (int k = 0; k < workers; k++) {
      NDArray pk = nd.create(OrthogonalSlices.slice(q, d, workers, r, k), new Shape(d, r));
      projectors.add(pk);
      factors.add(side.project(full, pk));
    }
    Collections.reverse(factors); // order must not matter as long as the pairs stay together
    Collections.reverse(projectors);
    return OrthogonalSlices.mergeOrthogonal(factors, projectors, side);
  }
}
