package io.orthoslice.common.method;

import io.orthoslice.common.config.AdamHyper;

import io.orthoslice.common.config.MethodSpec;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.orthoslice.common.model.ParameterSpec;
import io.orthoslice.common.optim.AdamW;
import io.orthoslice.common.projection.PortableRandom;
import io.orthoslice.common.projection.ProjectionKind;
import io.orthoslice.common.projection.ProjectionSource;
import io.orthoslice.common.projection.SeedSequence;
import io.orthoslice.common.projection.TwoSidedProjection;
import org.junit.jupiter.api.Test;

/** The two-sided projection a run trains with is the seeded pair (L, R), rebuilt from the seed alone. */
class ProjectedStateTest {

  @Test
  void twoSidedProjectorsAreTheSeededPairAndProjectAndLiftAsLTransposeGRAndLURTranspose() {
    ParameterSpec spec = new ParameterSpec("model.layers.0.mlp.gate_proj.weight", 12, 8, ParameterSpec.Role.PROJECTED);
    ProjectionSource source = ProjectionSource.twoSided(ProjectionKind.ORTHOGONAL, 42);
    try (NDManager nd = NDManager.newBaseManager();
        ProjectedState s = new ProjectedState(spec, 3, source, MethodSpec.StatePolicy.TRANSPORT,
            new AdamHyper(0.9, 0.95, 1e-8), nd, DataType.FLOAT64)) {
      s.draw(2, null);
      TwoSidedProjection ref = TwoSidedProjection.random(ProjectionKind.ORTHOGONAL,
          SeedSequence.derive(42, 2, spec.name(), 1), SeedSequence.derive(42, 2, spec.name(), 2), 12, 8, 3, nd,
          DataType.FLOAT64);
      assertArrayEquals(ref.left().toDoubleArray(), s.state().get("projector_left").toDoubleArray());
      assertArrayEquals(ref.right().toDoubleArray(), s.state().get("projector_right").toDoubleArray());
      assertArrayEquals(new long[] {3, 3}, s.reducedShape());
      assertEquals(2 * Long.BYTES, s.persistedBytes(), "two seeds");

      NDArray g = nd.create(gaussian(7, 12 * 8), new Shape(12, 8));
      assertTrue(maxAbsDiff(ref.project(g), s.project(g)) < 1e-14);
      NDArray u = nd.create(gaussian(8, 9), new Shape(3, 3));
      assertTrue(maxAbsDiff(ref.lift(u), s.lift(u)) < 1e-14);
      NDArray x = nd.create(gaussian(9, 5 * 8), new Shape(5, 8));
      // The adapter's forward x (L u R^T)^T without the m x n product.
      assertTrue(maxAbsDiff(x.matMul(ref.lift(u).transpose()), s.forward(x, u, DataType.FLOAT64, nd)) < 1e-13);
    }
  }

  private static double[] gaussian(long seed, int n) {
    PortableRandom rng = new PortableRandom(seed);
    double[] x = new double[n];
    for (int i = 0; i < n; i++) {
      x[i] = rng.nextGaussian();
    }
    return x;
  }

  private static double maxAbsDiff(NDArray a, NDArray b) {
    double[] x = a.toDoubleArray();
    double[] y = b.toDoubleArray();
    assertEquals(x.length, y.length);
    double m = 0;
    for (int i = 0; i < x.length; i++) {
      m = Math.max(m, Math.abs(x[i] - y[i]));
    }
    return m;
  }
}
