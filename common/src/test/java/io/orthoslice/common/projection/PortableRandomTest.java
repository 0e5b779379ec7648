package io.orthoslice.common.projection;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class PortableRandomTest {

  @Test
  void matchesTheSplitMix64ReferenceStreamForSeedZero() {
    PortableRandom r = new PortableRandom(0);
    assertEquals(0xE220A8397B1DCDAFL, r.nextLong());
    assertEquals(0x6E789E6AA1B965F4L, r.nextLong());
    assertEquals(0x06C45D188009454FL, r.nextLong());
  }

  @Test
  void gaussiansArePinnedBitForBit() {
    // Box-Muller through StrictMath: these bits must be the same on every JVM.
    PortableRandom g = new PortableRandom(12345);
    assertEquals(4594561266535876805L, Double.doubleToRawLongBits(g.nextGaussian()));
    assertEquals(4602796259538227342L, Double.doubleToRawLongBits(g.nextGaussian()));
    assertEquals(4597307755415569977L, Double.doubleToRawLongBits(g.nextGaussian()));
  }

  @Test
  void gaussiansHaveUnitVarianceAndZeroMean() {
    PortableRandom g = new PortableRandom(7);
    int n = 400_000;
    double sum = 0;
    double sumSq = 0;
    for (int i = 0; i < n; i++) {
      double x = g.nextGaussian();
      sum += x;
      sumSq += x * x;
    }
    double mean = sum / n;
    // 5 standard errors: sd(mean) = 1/sqrt(n) ~ 0.0016, sd(var) = sqrt(2/n) ~ 0.0022.
    assertEquals(0.0, mean, 0.008);
    assertEquals(1.0, sumSq / n - mean * mean, 0.011);
  }

  @Test
  void doublesStayInTheUnitIntervalAndSignsAreBalanced() {
    PortableRandom r = new PortableRandom(3);
    int plus = 0;
    for (int i = 0; i < 100_000; i++) {
      double u = r.nextDouble();
      assertTrue(u >= 0 && u < 1);
      double s = r.nextSign();
      assertTrue(s == 1.0 || s == -1.0);
      plus += s > 0 ? 1 : 0;
    }
    assertEquals(50_000, plus, 800); // about 5 standard deviations (sd 158)
  }
}
