package io.orthoslice.common.wire;

/**
 * The words of the coordinator-worker protocol that both sides must spell alike: its version, how a
 * call carries the run token, where the token comes from, and how tensors are named on the wire.
 * Plain constants and pure functions, so the coordinator, the worker, the launcher and the deploy
 * tests all read them from here.
 */
public final class Protocol {

  /**
   * Version 7: every round's broadcast is the weights' change in the run's wire precision, applied
   * by one float32 addition per value on any device, with a 64-bit checksum; the factored broadcast,
   * which each worker merged again on its CPU, is gone. Version 6: the run spec carries the run's whole configuration as one JSON object ({@code
   * run_config_json}, the coordinator's run.json) instead of field-by-field copies. Version 5: the run spec carries the warm-up per round ({@code round_warmup}), which an older
   * worker would ignore. Version 4: a projected matrix's trained factor travels as {@code <param>#B} (DESIGN's name for
   * it; {@code #A} before). Version 3: every call of a joined worker carries the worker key its Join returned. Version 2: a
   * round's projections derive from its projection draw (slices may live several rounds); the run
   * spec carries the merge rule, the slice lifetime and the inner-state policy.
   */
  public static final int VERSION = 7;

  /** The longest worker name a Join may carry, in bytes of UTF-8. */
  public static final int MAX_WORKER_NAME_BYTES = 128;

  /** The longest reason a Leave may carry, in bytes of UTF-8. */
  public static final int MAX_REASON_BYTES = 1024;

  /** The environment variable that carries the run token. */
  public static final String TOKEN_ENV = "ORTHOSLICE_TOKEN";

  /** The metadata key of the run token, and its scheme. */
  public static final String AUTHORIZATION_HEADER = "authorization";

  private static final String BEARER = "Bearer ";

  /** Suffix of an adapter factor's wire name: {@code <param>#B}. */
  public static final String FACTOR_SUFFIX = "#B";

  /** Suffix of the per-row scales of an INT8 tensor: {@code <name>#scale}. */
  public static final String SCALE_SUFFIX = "#scale";

  /** Suffix of the positions of a sparse change's kept entries: {@code <name>#idx}. */
  public static final String INDEX_SUFFIX = "#idx";

  /** The coordinator's main class, started by the launcher as a child process. */
  public static final String COORDINATOR_MAIN = "io.orthoslice.coordinator.cli.CoordinatorMain";

  private Protocol() {}

  /** The authorization value of a call made with {@code token}. */
  public static String bearer(String token) {
    return BEARER + token;
  }

  /** The wire name of a projected matrix's trained factor. */
  public static String factorName(String param) {
    return param + FACTOR_SUFFIX;
  }


  /** The name of tensor {@code name}'s per-row scales. */
  public static String scaleName(String name) {
    return name + SCALE_SUFFIX;
  }

  public static boolean isScaleName(String name) {
    return name.endsWith(SCALE_SUFFIX);
  }

  /** The tensor whose scales {@code scaleName} holds. */
  public static String scaledName(String scaleName) {
    return scaleName.substring(0, scaleName.length() - SCALE_SUFFIX.length());
  }

  /** The name of a sparse tensor {@code name}'s positions. */
  public static String indexName(String name) {
    return name + INDEX_SUFFIX;
  }

  /** Whether {@code name} is a companion tensor (scales or positions), not a tensor of its own. */
  public static boolean isCompanionName(String name) {
    return isScaleName(name) || name.endsWith(INDEX_SUFFIX);
  }

  /** The tensor a companion (scales or positions) belongs to. */
  public static String companionOf(String name) {
    return name.substring(0, name.lastIndexOf('#'));
  }
}
