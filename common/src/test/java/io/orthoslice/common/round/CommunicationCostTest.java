package io.orthoslice.common.round;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class CommunicationCostTest {

  @Test
  void referenceValues() {
    // 4 workers, 1e6 fp32 parameters, 2048 tokens per step: 2 x 2 x 3/4 x 4e6 / 2048 bytes per token.
    double dp = CommunicationCost.syncDataParallelPerToken(1_000_000, 4, 4, 2048);
    assertEquals(2 * 2 * 0.75 * 4e6 / 2048, dp, 1e-9);
    // A worker that sends 100 KiB and receives 300 KiB per round of 20 steps of 2048 tokens.
    double ours = CommunicationCost.perToken(100 << 10, 300 << 10, 20 * 2048L);
    assertEquals((400 << 10) / (20 * 2048.0), ours, 1e-12);
    assertEquals(dp / ours, CommunicationCost.reduction(ours, dp), 1e-9);
    // Longer rounds move the same bytes for more tokens: the reduction grows with H.
    assertTrue(CommunicationCost.reduction(CommunicationCost.perToken(100 << 10, 300 << 10, 200 * 2048L), dp)
        > 9.99 * CommunicationCost.reduction(ours, dp));
  }

  @Test
  void oneWorkerHasNothingToCompareWith() {
    assertEquals(0.0, CommunicationCost.syncDataParallelPerToken(1000, 1, 4, 10));
    assertTrue(Double.isNaN(CommunicationCost.reduction(1.0, 0.0)));
    assertTrue(Double.isNaN(CommunicationCost.perToken(1, 1, 0)));
  }
}
