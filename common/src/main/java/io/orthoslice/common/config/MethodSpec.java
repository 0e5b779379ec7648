package io.orthoslice.common.config;

import java.util.Locale;

/**
 * Which training method a run uses. FULL is dense AdamW on every parameter; the low-rank methods
 * (GaLore-style projected gradients, one-sided adapters, LoRA/ReLoRA, LDAdam) project the q, k, v,
 * o, gate, up and down matrices and train everything else densely.
 */
public record MethodSpec(
    Method method,
    String projection,
    int rank,
    int mergeEvery,
    StatePolicy statePolicy,
    Optimizer optimizer,
    String base,
    double scale) {

  public enum Method { FULL, GALORE, ADAPTER, LORA, RELORA }

  public enum StatePolicy { RESET, CARRY, TRANSPORT }

  public enum Optimizer { ADAMW, LDADAM }

  public static final MethodSpec FULL_RANK =
      new MethodSpec(Method.FULL, "orthogonal", 0, 200, StatePolicy.CARRY, Optimizer.ADAMW, "fp32", 1.0);

  public MethodSpec {
    if (rank < 0) {
      throw new IllegalArgumentException("rank must be >= 1 for low-rank methods, got " + rank);
    }
    if (method != Method.FULL && rank == 0) {
      throw new IllegalArgumentException("--rank is required for method " + lower(method));
    }
    if (mergeEvery <= 0) {
      throw new IllegalArgumentException("merge-every must be >= 1, got " + mergeEvery);
    }
    if (!(scale > 0)) {
      throw new IllegalArgumentException("scale must be > 0, got " + scale);
    }
  }

  static String lower(Enum<?> e) {
    return e.name().toLowerCase(Locale.ROOT);
  }

  public static <E extends Enum<E>> E parseEnum(Class<E> type, String option, String value) {
    for (E e : type.getEnumConstants()) {
      if (lower(e).equals(value.toLowerCase(Locale.ROOT))) {
        return e;
      }
    }
    StringBuilder allowed = new StringBuilder();
    for (E e : type.getEnumConstants()) {
      allowed.append(allowed.length() == 0 ? "" : "|").append(lower(e));
    }
    throw new IllegalArgumentException(
        "unknown " + option + " '" + value + "'; allowed: " + allowed);
  }
}
