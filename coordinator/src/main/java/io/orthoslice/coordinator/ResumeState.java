package io.orthoslice.coordinator;

import java.util.Map;

/**
 * Where a run stands between rounds: everything a checkpoint stores and a resume restores.
 *
 * @param nextRound the round to open next (0 for a new run)
 * @param dataCursor the first training window not yet handed out
 * @param mergerState the outer optimizer's buffers by parameter name and, on a lossy wire, the
 *     broadcast's error-feedback residuals ({@code broadcast_residual/<param>}); empty without either
 * @param validationLoss the last evaluated validation loss (NaN if none yet)
 */
public record ResumeState(long nextRound, long dataCursor, WeightsSnapshot weights,
    Map<String, float[]> mergerState, double validationLoss) {

  public ResumeState {
    if (nextRound < 0 || dataCursor < 0) {
      throw new IllegalArgumentException("nextRound and dataCursor must be >= 0, got " + nextRound + ", "
          + dataCursor);
    }
    mergerState = Map.copyOf(mergerState);
  }

  /** This state with the merger's buffers {@code mergerState} (host copies the merger made for it). */
  public ResumeState withMergerState(Map<String, float[]> state) {
    return new ResumeState(nextRound, dataCursor, weights, state, validationLoss);
  }

  /** This state with the validation loss its weights turned out to have. */
  public ResumeState withValidationLoss(double loss) {
    return new ResumeState(nextRound, dataCursor, weights, mergerState, loss);
  }

  public static ResumeState fresh(WeightsSnapshot initial) {
    return new ResumeState(0, 0, initial, Map.of(), Double.NaN);
  }
}
