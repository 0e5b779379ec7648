package io.orthoslice.common.round;

import io.orthoslice.common.config.RoundMode;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orthoslice.common.model.LlamaConfig;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

class RoundPlanCacheTest {

  static final LlamaConfig TINY = RoundPlanTest.TINY;

  /** Every draw the cache asks for, with the thread that drew it. */
  private final List<String> draws = new CopyOnWriteArrayList<>();

  private RoundPlanCache counting() {
    return new RoundPlanCache((mode, seed, draw, k, r) -> {
      draws.add(draw + "@" + Thread.currentThread().getName());
      return RoundPlan.of(TINY, mode, seed, draw, k, r);
    });
  }

  @Test
  void aPrefetchedPlanIsDrawnOnceInTheBackgroundAndIsTheOnDemandPlanBitForBit() {
    try (RoundPlanCache cache = counting()) {
      cache.prefetch(RoundMode.ORTHOGONAL, 42, 3, 4, 16);
      RoundPlan prefetched = cache.get(RoundMode.ORTHOGONAL, 42, 3, 4, 16);
      assertSame(prefetched, cache.get(RoundMode.ORTHOGONAL, 42, 3, 4, 16));
      assertEquals(List.of("3@round-plan-prefetch"), draws);
      RoundPlan fresh = RoundPlan.of(TINY, RoundMode.ORTHOGONAL, 42, 3, 4, 16);
      for (int slot = 0; slot < 4; slot++) {
        assertEquals(fresh.checksum(slot), prefetched.checksum(slot), "slot " + slot);
      }
    }
  }

  @Test
  void askingForAPlanForgetsTheEarlierDrawsAndAWrongGuessIsNotUsed() {
    try (RoundPlanCache cache = counting()) {
      RoundPlan first = cache.get(RoundMode.INDEPENDENT, 7, 0, 4, 8);
      cache.prefetch(RoundMode.INDEPENDENT, 7, 1, 4, 8);
      // The participants changed: the guess (4 workers) is not the plan for 3.
      RoundPlan three = cache.get(RoundMode.INDEPENDENT, 7, 1, 3, 8);
      assertEquals(3, three.participants());
      assertTrue(draws.contains("1@" + Thread.currentThread().getName()), draws.toString());
      // The wrong guess still runs in the background; counting starts once it has (bounded wait), or it
      // could land between the two counts below.
      long deadline = System.nanoTime() + 10_000_000_000L;
      while (!draws.contains("1@round-plan-prefetch") && System.nanoTime() < deadline) {
        Thread.onSpinWait();
      }
      assertTrue(draws.contains("1@round-plan-prefetch"), draws.toString());
      // Draw 0 was forgotten when draw 1 was asked for: asking again draws it anew.
      int before = draws.size();
      RoundPlan again = cache.get(RoundMode.INDEPENDENT, 7, 0, 4, 8);
      assertEquals(before + 1, draws.size());
      assertEquals(first.checksum(2), again.checksum(2));
    }
  }

  @Test
  void afterCloseAPrefetchIsDroppedQuietlyAndAPlanIsStillDrawnOnDemand() {
    RoundPlanCache cache = counting();
    cache.close();
    cache.prefetch(RoundMode.SAME, 42, 1, 2, 8);
    RoundPlan plan = cache.get(RoundMode.SAME, 42, 1, 2, 8);
    assertEquals(List.of("1@" + Thread.currentThread().getName()), draws);
    assertEquals(RoundPlan.of(TINY, RoundMode.SAME, 42, 1, 2, 8).checksum(1), plan.checksum(1));
  }

  @Test
  void aPrefetchOfSlicesThatCannotExistFailsAtItsGetWithRoundPlansMessage() {
    // tiny: d = 64, so 8 workers x rank 16 = 128 orthogonal columns do not fit.
    String direct = assertThrows(IllegalArgumentException.class,
        () -> RoundPlan.of(TINY, RoundMode.ORTHOGONAL, 42, 0, 8, 16)).getMessage();
    try (RoundPlanCache cache = counting()) {
      cache.prefetch(RoundMode.ORTHOGONAL, 42, 0, 8, 16);
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> cache.get(RoundMode.ORTHOGONAL, 42, 0, 8, 16));
      assertEquals(direct, e.getMessage());
    }
  }
}
