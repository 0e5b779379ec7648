package io.orthoslice.common.round;

import io.orthoslice.common.config.RoundMode;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orthoslice.common.model.LlamaConfig;
import io.orthoslice.common.model.ParameterSpec;
import io.orthoslice.common.projection.OrthogonalSlices;
import io.orthoslice.common.projection.ProjectionKind;
import io.orthoslice.common.projection.Projector;
import io.orthoslice.common.projection.SeedSequence;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class RoundPlanTest {

  static final LlamaConfig TINY = LlamaConfig.preset("tiny").withVocabSize(64);

  /** (P_j^T P_k)[a][b] for d x r row-major slices. */
  static double[][] gram(double[] pj, double[] pk, int d, int r) {
    double[][] g = new double[r][r];
    for (int i = 0; i < d; i++) {
      for (int a = 0; a < r; a++) {
        for (int b = 0; b < r; b++) {
          g[a][b] += pj[i * r + a] * pk[i * r + b];
        }
      }
    }
    return g;
  }

  @Test
  void orthogonalSlicesArePairwiseOrthogonalAndOrthonormal() {
    for (RoundMode mode : List.of(RoundMode.ORTHOGONAL, RoundMode.ORTHOGONAL_DCT)) {
      slicesArePairwiseOrthogonalAndOrthonormal(RoundPlan.of(TINY, mode, 42, 3, 4, 8), 4, 8);
    }
  }

  @Test
  void theCosineBasisIsASeededDrawOfDistinctFrequencies() {
    ParameterSpec q = RoundPlan.projected(TINY).get(0);
    double[] a = RoundPlan.of(TINY, RoundMode.ORTHOGONAL_DCT, 42, 3, 4, 8).slice(q, 1);
    assertArrayEquals(a, RoundPlan.of(TINY, RoundMode.ORTHOGONAL_DCT, 42, 3, 4, 8).slice(q, 1), "same seed, same bits");
    assertFalse(Arrays.equals(a, RoundPlan.of(TINY, RoundMode.ORTHOGONAL_DCT, 42, 4, 4, 8).slice(q, 1)), "next draw");
    assertFalse(Arrays.equals(a, RoundPlan.of(TINY, RoundMode.ORTHOGONAL, 42, 3, 4, 8).slice(q, 1)), "not the QR's");
    // Every column is one DCT-II basis vector up to the rows' signs: |P_ij| takes the values of a cosine column.
    int d = RoundPlan.dimension(q);
    double[] full = OrthogonalSlices.dctBasis(7, d, 1, d);
    for (int col = 0; col < d; col++) {
      int freq = -1;
      for (int j = 0; j < d && freq < 0; j++) {
        boolean match = true;
        for (int i = 0; i < d && match; i++) {
          double c = (j == 0 ? Math.sqrt(1.0 / d) : Math.sqrt(2.0 / d)) * Math.cos(Math.PI * (2 * i + 1) * j / (2.0 * d));
          match = Math.abs(Math.abs(full[i * d + col]) - Math.abs(c)) < 1e-12;
        }
        freq = match ? j : -1;
      }
      assertTrue(freq >= 0, "column " + col + " is a cosine of the DCT-II");
    }
  }

  private static void slicesArePairwiseOrthogonalAndOrthonormal(RoundPlan plan, int k, int r) {
    for (ParameterSpec p : RoundPlan.projected(TINY)) {
      int d = RoundPlan.dimension(p);
      for (int i = 0; i < k; i++) {
        for (int j = 0; j < k; j++) {
          double[][] g = gram(plan.slice(p, i), plan.slice(p, j), d, r);
          for (int a = 0; a < r; a++) {
            for (int b = 0; b < r; b++) {
              double expected = i == j && a == b ? 1.0 : 0.0;
              assertEquals(expected, g[a][b], 1e-10, p.name() + " slots " + i + "," + j);
            }
          }
        }
      }
    }
  }

  @Test
  void floatSlicesAreTheSlicesRoundedOnceAndNarrowAllMakesTheSameOnes() {
    for (RoundMode mode : List.of(RoundMode.ORTHOGONAL, RoundMode.INDEPENDENT, RoundMode.SAME)) {
      RoundPlan lazy = RoundPlan.of(TINY, mode, 42, 2, 3, 4);
      RoundPlan eager = RoundPlan.of(TINY, mode, 42, 2, 3, 4);
      eager.narrowAll();
      for (ParameterSpec p : RoundPlan.projected(TINY)) {
        for (int k = 0; k < 3; k++) {
          double[] wide = lazy.slice(p, k);
          float[] f = lazy.floatSlice(p, k);
          assertEquals(wide.length, f.length);
          for (int i = 0; i < f.length; i++) {
            assertEquals(Float.floatToIntBits((float) wide[i]), Float.floatToIntBits(f[i]), mode + " " + p.name());
          }
          assertSame(f, lazy.floatSlice(p, k), "made once");
          assertArrayEquals(f, eager.floatSlice(p, k));
        }
      }
      for (int k = 0; k < 3; k++) {
        assertEquals(lazy.checksum(k), eager.checksum(k), "checksums made before the float64 draw went");
      }
      ParameterSpec q = RoundPlan.projected(TINY).get(0);
      assertThrows(IllegalStateException.class, () -> eager.slice(q, 0));
      // A worker's plan prepared for its slot ahead: the same checksum and float32 slices, the float64 draw kept.
      RoundPlan prepared = RoundPlan.of(TINY, mode, 42, 2, 3, 4);
      prepared.prepare(1);
      assertEquals(lazy.checksum(1), prepared.checksum(1));
      assertArrayEquals(lazy.slice(q, 1), prepared.slice(q, 1));
      assertArrayEquals(lazy.floatSlice(q, 1), prepared.floatSlice(q, 1));
      RoundProjections src = new RoundProjections(prepared, 1);
      assertSame(prepared.floatSlice(q, 1), src.floatProjection(q, RoundPlan.side(q), 4, 0, null), "the plan's copy");
    }
  }

  @Test
  void plansRepeatForTheSameSeedAndDifferBetweenRounds() {
    ParameterSpec q = RoundPlan.projected(TINY).get(0);
    double[] a = RoundPlan.of(TINY, RoundMode.ORTHOGONAL, 42, 5, 3, 4).slice(q, 1);
    double[] b = RoundPlan.of(TINY, RoundMode.ORTHOGONAL, 42, 5, 3, 4).slice(q, 1);
    double[] c = RoundPlan.of(TINY, RoundMode.ORTHOGONAL, 42, 6, 3, 4).slice(q, 1);
    assertTrue(Arrays.equals(a, b));
    assertTrue(!Arrays.equals(a, c));
    assertEquals(RoundPlan.of(TINY, RoundMode.ORTHOGONAL, 42, 5, 3, 4).checksum(1),
        RoundPlan.of(TINY, RoundMode.ORTHOGONAL, 42, 5, 3, 4).checksum(1));
    assertNotEquals(RoundPlan.of(TINY, RoundMode.ORTHOGONAL, 42, 5, 3, 4).checksum(1),
        RoundPlan.of(TINY, RoundMode.ORTHOGONAL, 42, 6, 3, 4).checksum(1));
  }

  @Test
  void theParallelDrawGivesTheBitsOfASequentialOne() {
    // of() draws every matrix on the common pool; each must equal the draw of its own seed alone.
    LlamaConfig shape = LlamaConfig.preset("20m").withVocabSize(64);
    RoundPlan orthogonal = RoundPlan.of(shape, RoundMode.ORTHOGONAL, 7, 2, 3, 16);
    RoundPlan independent = RoundPlan.of(shape, RoundMode.INDEPENDENT, 7, 2, 3, 16);
    for (ParameterSpec p : RoundPlan.projected(shape)) {
      int d = RoundPlan.dimension(p);
      double[] q = OrthogonalSlices.basis(SeedSequence.derive(7, 2, p.name(), 0), d, 3, 16);
      for (int k = 0; k < 3; k++) {
        assertTrue(Arrays.equals(OrthogonalSlices.slice(q, d, 3, 16, k), orthogonal.slice(p, k)), p.name());
        assertTrue(Arrays.equals(Projector.random(ProjectionKind.ORTHOGONAL,
            SeedSequence.derive(7, 2, p.name(), k + 1), d, 16), independent.slice(p, k)), p.name());
      }
    }
  }

  @Test
  void sameModeGivesEverySlotOneProjectorAndIndependentDoesNot() {
    ParameterSpec q = RoundPlan.projected(TINY).get(0);
    RoundPlan same = RoundPlan.of(TINY, RoundMode.SAME, 42, 0, 3, 4);
    RoundPlan indep = RoundPlan.of(TINY, RoundMode.INDEPENDENT, 42, 0, 3, 4);
    assertTrue(Arrays.equals(same.slice(q, 0), same.slice(q, 2)));
    assertTrue(Arrays.equals(same.slice(q, 0), indep.slice(q, 0)));
    assertTrue(!Arrays.equals(indep.slice(q, 0), indep.slice(q, 2)));
  }

  @Test
  void tooManyWorkersForTheSmallestDimensionIsRefusedNamingIt() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> RoundPlan.of(TINY, RoundMode.ORTHOGONAL, 1, 0, 5, 16));
    assertTrue(e.getMessage().contains("5 x 16 = 80 exceeds the smallest projected dimension d = 64"), e.getMessage());
    RoundPlan.of(TINY, RoundMode.INDEPENDENT, 1, 0, 5, 16); // fine: only r <= d is needed
  }

  @Test
  void roundProjectionsServeTheCurrentPlansSliceWhateverTheRedrawIndex() {
    // A worker that keeps its optimizer re-draws through one source: the plan it points at decides.
    ParameterSpec q = RoundPlan.projected(TINY).get(0);
    RoundPlan plan = RoundPlan.of(TINY, RoundMode.ORTHOGONAL, 42, 0, 2, 4);
    RoundProjections src = new RoundProjections(plan, 1);
    assertTrue(Arrays.equals(plan.slice(q, 1), src.projection(q, RoundPlan.side(q), 4, 0, null)));
    RoundPlan next = RoundPlan.of(TINY, RoundMode.ORTHOGONAL, 42, 1, 2, 4);
    src.use(next, 0);
    assertTrue(Arrays.equals(next.slice(q, 0), src.projection(q, RoundPlan.side(q), 4, 7, null)));
    assertThrows(IllegalArgumentException.class, () -> src.projection(q, RoundPlan.side(q), 3, 0, null));
    assertThrows(IllegalArgumentException.class, () -> src.use(next, 2));
  }
}
