package io.orthoslice.common.projection;

import io.orthoslice.common.model.ParameterSpec;

/**
 * Where the projector P (d x r) of a projected matrix comes from at each re-draw. A standalone run
 * draws from its own seed; a distributed worker gets its pairwise-orthogonal slice of the round's
 * basis. Everything is a pure function of its arguments, so any process rebuilds the same P.
 */
public interface ProjectionSource {

  /**
   * @param redraw 0 for the first projector of a run (or round), then 1, 2, ... at each re-draw
   * @param gradient the current m x n gradient, row-major float64, for kinds that need it
   *     ({@link #needsGradient()}); null otherwise
   * @return P, d x r row-major float64, with d = side.dimension(rows, cols)
   */
  double[] projection(ParameterSpec spec, Side side, int rank, long redraw, double[] gradient);

  /** True for GaLore's SVD projector, which depends on the current gradient. */
  boolean needsGradient();

  /** Bytes a checkpoint (or the wire) must carry to rebuild a d x r projector of this source. */
  long persistedBytes(int d, int rank);

  /** A run's own projections of the given kind: seed derived from (run seed, re-draw, name, slot 0). */
  static ProjectionSource standalone(ProjectionKind kind, long runSeed) {
    return new ProjectionSource() {
      @Override
      public double[] projection(ParameterSpec spec, Side side, int rank, long redraw, double[] gradient) {
        if (kind == ProjectionKind.SVD) {
          return Projector.svd(gradient, spec.rows(), spec.cols(), rank, side);
        }
        int d = side.dimension(spec.rows(), spec.cols());
        return Projector.random(kind, SeedSequence.derive(runSeed, redraw, spec.name(), 0), d, rank);
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
