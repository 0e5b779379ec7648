package io.orthoslice.common.config;


/**
 * How the tensors of a round travel (the run's {@code --wire}, the same for the updates and the
 * broadcast):
 *
 * <ul>
 *   <li>F32: exact float32; a dense parameter travels as its new value and the broadcast as the
 *       round's exact change;
 *   <li>F16: IEEE half precision, round to nearest even;
 *   <li>INT8: symmetric int8 with one float32 scale per row ({@code max |row| / 127}, rounded to
 *       nearest), a 1-D tensor being one row.
 * </ul>
 *
 * Under the two lossy precisions every tensor travels as a change (a factor, a dense parameter's
 * delta, the merged delta of the broadcast), never as a value, and both sides carry the quantisation
 * residual into the next round (error feedback), so compression does not drift.
 */
public enum WirePrecision {
  F32,
  F16,
  INT8;

  public String label() {
    return EnumLabels.label(this);
  }

  /** Whether values change on the way: then changes travel, with error feedback. */
  public boolean lossy() {
    return this != F32;
  }

  public static WirePrecision parse(String s) {
    return EnumLabels.parse(WirePrecision.class, "wire precision", s);
  }
}
