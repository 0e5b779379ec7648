package io.orthoslice.common.data;

/** On-disk element type of a shard: little-endian unsigned integers of {@link #width()} bytes. */
public enum TokenDtype {
  UINT16("uint16", 2),
  UINT32("uint32", 4);

  private final String label;
  private final int width;

  TokenDtype(String label, int width) {
    this.label = label;
    this.width = width;
  }

  /** The narrowest type that holds every id of a vocabulary of {@code vocabSize}. */
  public static TokenDtype forVocab(int vocabSize) {
    return vocabSize <= 65536 ? UINT16 : UINT32;
  }

  /** Parses a manifest's {@code dtype}. */
  public static TokenDtype of(String label) {
    for (TokenDtype t : values()) {
      if (t.label.equals(label)) {
        return t;
      }
    }
    throw new IllegalArgumentException(
        "dtype '" + label + "' is not supported; allowed: uint16, uint32");
  }

  public String label() {
    return label;
  }

  /** Bytes per token. */
  public int width() {
    return width;
  }
}
