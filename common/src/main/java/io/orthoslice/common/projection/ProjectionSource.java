package io.orthoslice.common.projection;

import io.orthoslice.common.model.ParameterSpec;
import java.util.List;

/**
 * Where the projectors of a projected matrix come from at each re-draw: one P (d x r) on the side
 * GaLore picks, or, for a two-sided (Kronecker-factored) projection, L (m x r) on the left and R (n
 * x r) on the right. A standalone run draws from its own seed; a distributed worker gets its
 * pairwise-orthogonal slice of the round's basis. Everything is a pure function of its arguments,
 * so any process rebuilds the same projectors.
 */
public interface ProjectionSource {

  /**
   * @param redraw 0 for the first projector of a run (or round), then 1, 2, ... at each re-draw
   * @param gradient the current m x n gradient, row-major float64, for kinds that need it
   *     ({@link #needsGradient()}); null otherwise
   * @return P, d x r row-major float64, with d = side.dimension(rows, cols)
   */
  double[] projection(ParameterSpec spec, Side side, int rank, long redraw, double[] gradient);

  /**
   * {@link #projection} as float32, each value rounded to nearest (as {@code HostArrays} narrows): the
   * projector of a float32 trainer. A source that keeps float32 copies made ahead returns them.
   */
  default float[] floatProjection(ParameterSpec spec, Side side, int rank, long redraw, double[] gradient) {
    return io.orthoslice.common.tensor.HostArrays.narrow(projection(spec, side, rank, redraw, gradient));
  }

  /** The sides that carry a projector, in the order they are drawn: one side, or LEFT and RIGHT. */
  default List<Side> sides(ParameterSpec spec) {
    return List.of(Side.forShape(spec.rows(), spec.cols()));
  }

  /** True for GaLore's SVD projector, which depends on the current gradient. */
  boolean needsGradient();

  /** Bytes a checkpoint (or the wire) must carry to rebuild a d x r projector of this source. */
  long persistedBytes(int d, int rank);

  /** A run's own projections of the given kind: seed derived from (run seed, re-draw, name, slot 0). */
  static ProjectionSource standalone(ProjectionKind kind, long runSeed) {
    return seeded(kind, runSeed, false);
  }

  /**
   * A run's own two-sided projections: L (m x r) and R (n x r) of a seeded kind, from slots 1 (L)
   * and 2 (R) of (run seed, re-draw, name), so the two factors are independent draws even for a
   * square matrix.
   */
  static ProjectionSource twoSided(ProjectionKind kind, long runSeed) {
    if (!kind.seeded()) {
      throw new IllegalArgumentException("two-sided projections are drawn from a seed; kind " + kind.label()
          + " is not allowed (allowed: gaussian, rademacher, orthogonal)");
    }
    return seeded(kind, runSeed, true);
  }

  private static ProjectionSource seeded(ProjectionKind kind, long runSeed, boolean twoSided) {
    return new ProjectionSource() {
      @Override
      public List<Side> sides(ParameterSpec spec) {
        return twoSided ? List.of(Side.LEFT, Side.RIGHT) : ProjectionSource.super.sides(spec);
      }

      @Override
      public double[] projection(ParameterSpec spec, Side side, int rank, long redraw, double[] gradient) {
        if (kind == ProjectionKind.SVD) {
          return Projector.svd(gradient, spec.rows(), spec.cols(), rank, side);
        }
        int d = side.dimension(spec.rows(), spec.cols());
        int slot = twoSided ? (side == Side.LEFT ? 1 : 2) : 0;
        return Projector.random(kind, SeedSequence.derive(runSeed, redraw, spec.name(), slot), d, rank);
      }

      @Override
      public boolean needsGradient() {
        return kind == ProjectionKind.SVD;
      }

      @Override
      public long persistedBytes(int d, int rank) {
        return kind.persistedBytes(d, rank, Float.BYTES);
      }
    };
  }
}
