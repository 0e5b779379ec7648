package io.orthoslice.common.data;

/**
 * Validation windows in file order, unshuffled, so every evaluation of a run (and of runs that
 * share the dataset) scores the same tokens and perplexities are comparable.
 */
public final class ValidationWindows {

  private ValidationWindows() {}

  /** Windows of seqLen+1 tokens (stride seqLen) in the validation split. */
  public static long count(TokenDataset ds, int seqLen) {
    requireSeqLen(seqLen);
    return WindowCopy.windows(ds.tokens(Split.VALIDATION), seqLen);
  }

  /** The first {@code count} validation windows, flat: long[count * (seqLen + 1)]. */
  public static long[] first(TokenDataset ds, int seqLen, int count) {
    return read(ds, seqLen, 0, count);
  }

  /** Validation windows [firstWindow, firstWindow + count), flat: long[count * (seqLen + 1)]. */
  public static long[] read(TokenDataset ds, int seqLen, long firstWindow, int count) {
    long available = count(ds, seqLen);
    if (firstWindow < 0 || firstWindow > available - count) {
      throw new IllegalArgumentException(
          "validation windows ["
              + firstWindow
              + ", "
              + (firstWindow + count)
              + ") requested but the split has "
              + available
              + " windows of "
              + (seqLen + 1)
              + " tokens");
    }
    long[] out = new long[WindowCopy.batchLength(count, seqLen)];
    int[] scratch = new int[seqLen + 1];
    for (int row = 0; row < count; row++) {
      WindowCopy.copy(ds, Split.VALIDATION, seqLen, firstWindow + row, scratch, out, row);
    }
    return out;
  }

  private static void requireSeqLen(int seqLen) {
    if (seqLen < 1) {
      throw new IllegalArgumentException("seqLen must be >= 1, got " + seqLen);
    }
  }
}
