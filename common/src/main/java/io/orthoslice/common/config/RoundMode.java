package io.orthoslice.common.config;


/**
 * How the K participants of a round get their projectors and how their updates are merged.
 *
 * <ul>
 *   <li>ORTHOGONAL (worker-aware, the method): pairwise-orthogonal slices of one basis; merge = sum.
 *   <li>ORTHOGONAL_DCT: as ORTHOGONAL, the basis a randomized cosine transform's columns instead of a
 *       Gaussian's QR (O(d K r) to draw, not O(d (K r)^2)).
 *   <li>INDEPENDENT: each slot draws its own semi-orthogonal P; merge = mean.
 *   <li>SAME: every slot trains on the same P; merge = mean.
 *   <li>FULL: full-rank local training (local SGD / DiLoCo with outer lr 1); merge = mean of deltas.
 * </ul>
 */
public enum RoundMode {
  ORTHOGONAL,
  ORTHOGONAL_DCT,
  INDEPENDENT,
  SAME,
  FULL;

  public String label() {
    return EnumLabels.label(this);
  }

  /** Whether the slots' projectors are slices of one basis, pairwise orthogonal (ORTHOGONAL, ORTHOGONAL_DCT). */
  public boolean sliced() {
    return this == ORTHOGONAL || this == ORTHOGONAL_DCT;
  }

  /** Whether workers train low-rank adapters (everything but FULL). */
  public boolean projected() {
    return this != FULL;
  }

  public static RoundMode parse(String s) {
    return EnumLabels.parse(RoundMode.class, "mode", s);
  }
}
