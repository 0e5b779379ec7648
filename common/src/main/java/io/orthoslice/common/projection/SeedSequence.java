package io.orthoslice.common.projection;

import java.nio.charset.StandardCharsets;

/**
 * Derives the seed of one random draw from the run seed, the round, the parameter name and a slot
 * (worker index, or which factor of a two-sided projection).
 *
 * <p>Every field is absorbed through the SplitMix64 finalizer, which is a bijection of 64-bit
 * integers, so changing any single field always changes the result. The computation uses only
 * 64-bit integer arithmetic and the UTF-8 bytes of the name, so the same inputs give the same seed
 * on every JVM, operating system and machine: a worker can rebuild its projector from the four
 * fields alone, and a resumed run continues with the same draws.
 */
public final class SeedSequence {

  /** The golden-ratio increment of SplitMix64. */
  static final long GAMMA = 0x9E3779B97F4A7C15L;

  private SeedSequence() {}

  /**
   * @param round training round (negative values are allowed, e.g. -1 for initialization)
   * @param parameterName the parameter's name, e.g. {@code model.layers.0.self_attn.q_proj.weight}
   * @param slot worker index or factor slot (any int)
   */
  public static long derive(long runSeed, long round, String parameterName, int slot) {
    if (parameterName == null) {
      throw new IllegalArgumentException("parameterName must not be null");
    }
    byte[] name = parameterName.getBytes(StandardCharsets.UTF_8);
    long h = mix64(runSeed + GAMMA);
    h = absorb(h, round);
    // The length goes first so that name bytes and the slot that follows can never be confused.
    h = absorb(h, name.length);
    for (byte b : name) {
      h = absorb(h, b & 0xFF);
    }
    return absorb(h, slot);
  }

  private static long absorb(long h, long x) {
    return mix64((h + GAMMA) ^ x);
  }

  /** SplitMix64's output function (Steele, Lea and Flood 2014, variant 13 of Stafford). */
  static long mix64(long z) {
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }
}
