package io.orthoslice.common.config;

/**
 * Adam's moment decay rates and denominator guard (Kingma and Ba, 2015), checked once here: the
 * configuration records validate with it and the optimizers take it as is.
 */
public record AdamHyper(double beta1, double beta2, double eps) {

  public AdamHyper {
    if (!(beta1 >= 0 && beta1 < 1)) {
      throw new IllegalArgumentException("beta1 must be in [0, 1), got " + beta1);
    }
    if (!(beta2 >= 0 && beta2 < 1)) {
      throw new IllegalArgumentException("beta2 must be in [0, 1), got " + beta2);
    }
    if (!(eps > 0)) {
      throw new IllegalArgumentException("eps must be > 0, got " + eps);
    }
  }
}
