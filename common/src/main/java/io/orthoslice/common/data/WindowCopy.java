package io.orthoslice.common.data;

/** Copies one window of seqLen+1 tokens out of a dataset into a long[] batch. */
final class WindowCopy {

  private WindowCopy() {}

  /** Windows a split of {@code tokens} tokens holds: (tokens - 1) / seqLen, or 0 if empty. */
  static long windows(long tokens, int seqLen) {
    return tokens == 0 ? 0 : (tokens - 1) / seqLen;
  }

  /** Checks the flat batch fits one Java array. */
  static int batchLength(int batchSize, int seqLen) {
    long length = (long) batchSize * (seqLen + 1);
    if (batchSize < 1 || length > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException(
          "batchSize must be >= 1 and batchSize * (seqLen + 1) must fit an array, got "
              + batchSize
              + " * "
              + (seqLen + 1));
    }
    return (int) length;
  }

  /**
   * Window w covers tokens [w * seqLen, w * seqLen + seqLen + 1); it goes to dst[row * (seqLen + 1)
   * ..].
   */
  static void copy(
      TokenDataset ds, Split split, int seqLen, long window, int[] scratch, long[] dst, int row) {
    ds.read(split, window * seqLen, scratch, 0, seqLen + 1);
    int base = row * (seqLen + 1);
    for (int i = 0; i <= seqLen; i++) {
      dst[base + i] = scratch[i];
    }
  }
}
