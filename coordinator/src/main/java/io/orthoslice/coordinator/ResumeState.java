package io.orthoslice.coordinator;

import java.util.Map;

/**
 * Where a run stands between rounds: everything a checkpoint stores and a resume restores.
 *
 * @param nextRound the round to open next (0 for a new run)
 * @param dataCursor the first training window not yet handed out
 * @param outerMomentum the outer optimizer's buffers by parameter name (empty without one)
 * @param validationLoss the last evaluated validation loss (NaN if none yet)
 */
public record ResumeState(long nextRound, long dataCursor, WeightsSnapshot weights,
    Map<String, float[]> outerMomentum, double validationLoss) {

  public ResumeState {
    if (nextRound < 0 || dataCursor < 0) {
      throw new IllegalArgumentException("nextRound and dataCursor must be >= 0, got " + nextRound + ", "
          + dataCursor);
    }
    outerMomentum = Map.copyOf(outerMomentum);
  }

  public static ResumeState fresh(WeightsSnapshot initial) {
    return new ResumeState(0, 0, initial, Map.of(), Double.NaN);
  }
}
