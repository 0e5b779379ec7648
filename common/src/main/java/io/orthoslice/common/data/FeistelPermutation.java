package io.orthoslice.common.data;

/**
 * A keyed pseudo-random bijection of [0, size) in O(1) memory, so a corpus of billions of windows
 * can be shuffled without a permutation table.
 *
 * <p>A balanced Feistel network over 2h bits (2^(2h) is the smallest even power of two >= size, so
 * under 4 * size) is a bijection for any round function; values that land outside [0, size) are
 * encrypted again ("cycle walking", Black and Rogaway, "Ciphers with Arbitrary Finite Domains",
 * 2002), which restricts the bijection to [0, size) and needs under 4 rounds of walking on average.
 * Everything is 64-bit integer arithmetic, so the order is identical on every JVM.
 */
final class FeistelPermutation {

  private static final int ROUNDS = 6;
  private static final long GOLDEN = 0x9E3779B97F4A7C15L;

  private final long size;
  private final int halfBits;
  private final long halfMask;
  private final long[] roundKeys = new long[ROUNDS];

  FeistelPermutation(long size, long key) {
    if (size < 1) {
      throw new IllegalArgumentException("permutation size must be >= 1, got " + size);
    }
    int bits = 64 - Long.numberOfLeadingZeros(size - 1);
    this.size = size;
    this.halfBits = Math.max(1, (bits + 1) / 2);
    this.halfMask = (1L << halfBits) - 1;
    for (int i = 0; i < ROUNDS; i++) {
      roundKeys[i] = mix64(key + GOLDEN * (i + 1));
    }
  }

  long size() {
    return size;
  }

  /** The image of {@code x}, for x in [0, size). */
  long apply(long x) {
    if (x < 0 || x >= size) {
      throw new IndexOutOfBoundsException("index " + x + " is outside [0, " + size + ")");
    }
    long y = x;
    do {
      y = encrypt(y);
    } while (Long.compareUnsigned(y, size) >= 0);
    return y;
  }

  private long encrypt(long v) {
    long left = (v >>> halfBits) & halfMask;
    long right = v & halfMask;
    for (long k : roundKeys) {
      long next = left ^ (mix64(right ^ k) & halfMask);
      left = right;
      right = next;
    }
    return (left << halfBits) | right;
  }

  /** SplitMix64's finalizer (Steele, Lea and Flood 2014): a fast 64-bit avalanche. */
  static long mix64(long z) {
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }

  /** The key of one epoch of a run seeded with {@code seed}. */
  static long epochKey(long seed, long epoch) {
    return mix64(mix64(seed) + GOLDEN * (epoch + 1));
  }
}
