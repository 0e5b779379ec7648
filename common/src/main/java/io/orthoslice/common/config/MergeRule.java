package io.orthoslice.common.config;

import java.util.Locale;

/**
 * How the coordinator combines the K lifted factor updates {@code lift(B_k, P_k)} of a projected
 * matrix: {@code factor} times their sum or their mean. On pairwise-orthogonal slices the sum is the
 * one full-rank step (each direction is trained by exactly one worker); on shared or independently
 * drawn projectors the K updates overlap and the mean is the local-SGD average. Summing the
 * corrections of K workers that each saw the same error is a block-Jacobi step, which overshoots
 * when the blocks are coupled (docs/methods.md 8): the rule is a lever the sweep measures, not a given.
 * The factor scales the projected matrices only; dense parameters are always averaged (the outer
 * learning rate scales everything).
 *
 * @param mean true: {@code factor/K} per update (K = updates merged); false: {@code factor}
 */
public record MergeRule(boolean mean, double factor) {

  public static final MergeRule SUM = new MergeRule(false, 1.0);
  public static final MergeRule MEAN = new MergeRule(true, 1.0);

  /**
   * The coordinator's default for every mode, from the method sweep (docs/RESULTS.md): with H >= 5
   * local steps the mean of the orthogonal slices beats their sum at every size and learning rate
   * measured (20m, K = 4, 3 seeds: 13.71 vs 18.38 final perplexity; tiny: 21.2 vs 26.4), and ties
   * the baselines; the sum wins only in the synchronous corner (H = 1, optimizer state kept, slices
   * fixed).
   */
  public static final MergeRule DEFAULT = MEAN;

  public MergeRule {
    if (!(factor > 0) || Double.isInfinite(factor)) {
      throw new IllegalArgumentException("merge factor must be a positive number, got " + factor);
    }
  }

  /** "sum", "mean", or with a factor "sum*0.5", "mean*2". */
  public String label() {
    return (mean ? "mean" : "sum") + (factor == 1.0 ? "" : "*" + trim(factor));
  }

  @Override
  public String toString() {
    return label();
  }

  /**
   * The rule a mode is defined with (DESIGN.md, "The distributed method"): SUM for the sliced modes,
   * ORTHOGONAL and ORTHOGONAL_DCT (their slices' updates add up to one full-rank step), MEAN for the
   * baselines. The sweep's and the
   * coordinator's "auto"; not the default ({@link #DEFAULT}).
   */
  public static MergeRule byConstruction(RoundMode mode) {
    return mode.sliced() ? SUM : MEAN;
  }

  /** The factor that multiplies each of {@code contributions} lifted updates. */
  public double weight(int contributions) {
    if (contributions < 1) {
      throw new IllegalArgumentException("a merge needs at least one contribution, got " + contributions);
    }
    return mean ? factor / contributions : factor;
  }

  public static MergeRule parse(String s) {
    String v = s == null ? "" : s.trim().toLowerCase(Locale.ROOT);
    int star = v.indexOf('*');
    String kind = star < 0 ? v : v.substring(0, star);
    if (!kind.equals("sum") && !kind.equals("mean")) {
      throw new IllegalArgumentException("merge must be sum, mean, sum*F or mean*F (F > 0), got '" + s + "'");
    }
    double f = 1.0;
    if (star >= 0) {
      try {
        f = Double.parseDouble(v.substring(star + 1));
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("merge must be sum, mean, sum*F or mean*F (F > 0), got '" + s + "'");
      }
      if (!(f > 0) || Double.isInfinite(f)) {
        throw new IllegalArgumentException("merge must be sum, mean, sum*F or mean*F (F > 0), got '" + s + "'");
      }
    }
    return new MergeRule(kind.equals("mean"), f);
  }

  private static String trim(double v) {
    return v == Math.rint(v) ? Long.toString((long) v) : Double.toString(v);
  }
}
