package io.orthoslice.common.data;

/**
 * The training order: which window of a split a global position reads.
 *
 * <p>A split's token stream is cut into windows of seqLen+1 tokens with stride seqLen (window w
 * covers tokens [w*seqLen, w*seqLen+seqLen+1); inputs are its first seqLen tokens, targets its last
 * seqLen). Position p falls in epoch p / numWindows and reads window perm_epoch(p % numWindows),
 * where perm_epoch is a {@link FeistelPermutation} keyed by (seed, epoch): every window exactly
 * once per epoch, a fresh order each epoch.
 *
 * <p>The caller's data cursor is therefore a single long, the next global position: saving it
 * resumes the exact order, and a coordinator can hand disjoint position ranges to workers, who need
 * nothing else to read their batches.
 */
public final class WindowSampler {

  private final long numWindows;
  private final int seqLen;
  private final long seed;

  /** A sampler over a split of {@code tokens} tokens. */
  public WindowSampler(long tokens, int seqLen, long seed) {
    if (seqLen < 1) {
      throw new IllegalArgumentException("seqLen must be >= 1, got " + seqLen);
    }
    if (tokens < (long) seqLen + 1) {
      throw new IllegalArgumentException(
          "a split of "
              + tokens
              + " tokens holds no window of seqLen + 1 = "
              + (seqLen + 1)
              + " tokens");
    }
    this.numWindows = WindowCopy.windows(tokens, seqLen);
    this.seqLen = seqLen;
    this.seed = seed;
  }

  public static WindowSampler forSplit(TokenDataset ds, Split split, int seqLen, long seed) {
    return new WindowSampler(ds.tokens(split), seqLen, seed);
  }

  /** Windows per epoch: (tokens - 1) / seqLen. */
  public long numWindows() {
    return numWindows;
  }

  public int seqLen() {
    return seqLen;
  }

  public long seed() {
    return seed;
  }

  /** The window read at {@code globalPosition} (>= 0). */
  public long windowAt(long globalPosition) {
    return permutation(epochOf(globalPosition)).apply(globalPosition % numWindows);
  }

  /**
   * Tokens of the windows at positions [globalPosition, globalPosition + batchSize), flat and
   * row-major: long[batchSize * (seqLen + 1)]. Inputs are each row's [:-1], targets its [1:].
   */
  public long[] batch(TokenDataset ds, Split split, long globalPosition, int batchSize) {
    long splitWindows = WindowCopy.windows(ds.tokens(split), seqLen);
    if (splitWindows != numWindows) {
      throw new IllegalArgumentException(
          "sampler has "
              + numWindows
              + " windows but split "
              + split
              + " of "
              + ds
              + " has "
              + splitWindows);
    }
    if (globalPosition > Long.MAX_VALUE - batchSize) {
      throw new IllegalArgumentException(
          "globalPosition " + globalPosition + " + batchSize overflows");
    }
    long[] out = new long[WindowCopy.batchLength(batchSize, seqLen)];
    int[] scratch = new int[seqLen + 1];
    long epoch = -1;
    FeistelPermutation perm = null;
    for (int row = 0; row < batchSize; row++) {
      long position = globalPosition + row;
      if (epochOf(position) != epoch) {
        epoch = epochOf(position);
        perm = permutation(epoch);
      }
      long window = perm.apply(position % numWindows);
      WindowCopy.copy(ds, split, seqLen, window, scratch, out, row);
    }
    return out;
  }

  private long epochOf(long globalPosition) {
    if (globalPosition < 0) {
      throw new IllegalArgumentException("globalPosition must be >= 0, got " + globalPosition);
    }
    return globalPosition / numWindows;
  }

  private FeistelPermutation permutation(long epoch) {
    return new FeistelPermutation(numWindows, FeistelPermutation.epochKey(seed, epoch));
  }
}
