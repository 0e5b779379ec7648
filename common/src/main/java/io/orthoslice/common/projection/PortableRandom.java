package io.orthoslice.common.projection;

/**
 * A SplitMix64 stream whose every output is defined by integer arithmetic and {@link StrictMath},
 * so the same seed gives bit-identical numbers on every JVM and machine. Projections are rebuilt
 * from seeds on workers and coordinator separately, which only works if they draw identical
 * numbers; {@code java.util.Random} would do, but engine RNGs differ across devices, and we want
 * one generator for everything. Not thread-safe: use one instance per draw.
 */
public final class PortableRandom {

  private long state;
  private double spareGaussian;
  private boolean hasSpare;

  public PortableRandom(long seed) {
    this.state = seed;
  }

  /** The next 64 uniformly distributed bits. */
  public long nextLong() {
    state += SeedSequence.GAMMA;
    return SeedSequence.mix64(state);
  }

  /** Uniform in [0, 1), with 53 random bits. */
  public double nextDouble() {
    return (nextLong() >>> 11) * 0x1.0p-53;
  }

  /** +1 or -1 with equal probability, from the top bit. */
  public double nextSign() {
    return nextLong() < 0 ? -1.0 : 1.0;
  }

  /**
   * A standard normal by the Box-Muller transform; the two values of each pair are returned in
   * turn. {@code u1} is taken in (0, 1] so the logarithm is finite.
   */
  public double nextGaussian() {
    if (hasSpare) {
      hasSpare = false;
      return spareGaussian;
    }
    double u1 = 1.0 - nextDouble();
    double u2 = nextDouble();
    double radius = StrictMath.sqrt(-2.0 * StrictMath.log(u1));
    double angle = 2.0 * StrictMath.PI * u2;
    spareGaussian = radius * StrictMath.sin(angle);
    hasSpare = true;
    return radius * StrictMath.cos(angle);
  }
}
