package io.orthoslice.common.data;

/** The two parts of a prepared dataset; {@link #fileStem()} prefixes its shard files. */
public enum Split {
  TRAIN("train"),
  VALIDATION("val");

  private final String fileStem;

  Split(String fileStem) {
    this.fileStem = fileStem;
  }

  /** Shard file prefix and manifest key: {@code train} or {@code val}. */
  public String fileStem() {
    return fileStem;
  }
}
