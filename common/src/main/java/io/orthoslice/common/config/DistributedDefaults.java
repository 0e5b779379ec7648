package io.orthoslice.common.config;

/**
 * The defaults of a distributed run, written once: the coordinator's options, and {@code launch} and
 * {@code sweep}, which start coordinators, refer to these constants (picocli takes defaults as
 * compile-time strings). {@code launch} keeps its own shorter demo run (rounds, local steps).
 */
public final class DistributedDefaults {

  public static final String WORKERS = "3";
  public static final String MODE = "orthogonal";
  public static final String RANK = "8";
  public static final String PRESET = "tiny";
  public static final String SEQ_LEN = "64";
  public static final String BATCH_SIZE = "8";
  public static final String LR = "2e-3";
  public static final String SEED = "42";
  public static final String TOKENIZER = "byte";

  private DistributedDefaults() {}
}
