package io.orthoslice.coordinator;

/**
 * What an update may hold beside its shapes, so that one broken or hostile worker cannot poison the
 * run: every value finite and at most {@code maxAbs} in magnitude (checked as each tensor arrives,
 * INVALID_ARGUMENT), and, in a round with at least {@link #MIN_FOR_OUTLIERS} updates, no tensor's
 * change larger than {@code outlierFactor} times the median of the same tensor's change over the
 * round's updates (checked before the merge; the outlier's slot is left out of the round).
 *
 * @param maxAbs the largest |value| of any element (factors, dense parameters' new values)
 * @param outlierFactor 0 turns the relative bound off
 */
public record UpdateLimits(double maxAbs, double outlierFactor) {


  /** Fewer updates than this have no meaningful median; the relative bound then does not apply. */
  public static final int MIN_FOR_OUTLIERS = 3;

  public UpdateLimits {
    if (!(maxAbs > 0) || Double.isInfinite(maxAbs)) {
      throw new IllegalArgumentException("max-update-value must be a positive finite number, got " + maxAbs);
    }
    if (!(outlierFactor == 0 || outlierFactor > 1) || Double.isInfinite(outlierFactor)) {
      throw new IllegalArgumentException("update-outlier-factor must be 0 (off) or a finite number > 1, got "
          + outlierFactor);
    }
  }
}
