package io.orthoslice.common.config;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/** The warm-up per round: a linear ramp that reaches the schedule at local step W - 1, and nothing without one. */
class RoundRulesTest {

  private static double[] factors(int warmup, int steps) {
    RoundRules r = new RoundRules(MergeRule.DEFAULT, 1, InnerState.RESET, WirePrecision.F32, 1.0, warmup);
    return IntStream.range(0, steps).mapToDouble(r::lrFactor).toArray();
  }

  @Test
  void everyRoundRampsItsFirstLocalStepsAndThenFollowsTheSchedule() {
    assertArrayEquals(new double[] {0.25, 0.5, 0.75, 1, 1, 1}, factors(4, 6), 0.0);
    assertArrayEquals(new double[] {1, 1, 1}, factors(1, 3), 0.0);
    assertArrayEquals(new double[] {1, 1, 1}, factors(0, 3), 0.0);
    assertEquals(0, RoundRules.defaultsFor(RoundMode.ORTHOGONAL).roundWarmup());
  }

  @Test
  void aNegativeWarmupOrStepIsRefusedByName() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> factors(-1, 1));
    assertEquals("round-warmup must be >= 0 local steps, got -1", e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> RoundRules.defaultsFor(RoundMode.SAME).lrFactor(-2));
    assertEquals("local step must be >= 0, got -2", e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> RoundRules.requireRoundWarmup(16, 15));
    assertEquals("--round-warmup must be in [0, --local-steps 15], got 16", e.getMessage());
    RoundRules.requireRoundWarmup(15, 15);
  }
}
