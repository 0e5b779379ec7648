package io.orthoslice.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.EnumSet;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The run's phase table is exactly the one RunPhase's javadoc draws: every allowed transition, and no
 * other (36 pairs, each checked).
 */
class RunPhaseTest {

  private static final Map<RunPhase, Set<RunPhase>> DRAWN = Map.of(
      RunPhase.WAITING, EnumSet.of(RunPhase.DRAWING, RunPhase.FINISHED, RunPhase.CLOSED),
      RunPhase.DRAWING, EnumSet.of(RunPhase.TRAINING, RunPhase.FINISHED, RunPhase.CLOSED),
      RunPhase.TRAINING, EnumSet.of(RunPhase.MERGING, RunPhase.FINISHED, RunPhase.CLOSED),
      RunPhase.MERGING, EnumSet.of(RunPhase.WAITING, RunPhase.FINISHED, RunPhase.CLOSED),
      RunPhase.FINISHED, EnumSet.of(RunPhase.CLOSED),
      RunPhase.CLOSED, EnumSet.noneOf(RunPhase.class));

  @Test
  void everyPairIsAllowedExactlyWhenTheTableDrawsIt() {
    int checked = 0;
    for (RunPhase from : RunPhase.values()) {
      for (RunPhase to : RunPhase.values()) {
        assertEquals(DRAWN.get(from).contains(to), from.canBecome(to), from + " -> " + to);
        checked++;
      }
    }
    assertEquals(36, checked);
  }

  @Test
  void aRoundIsACycleThatOnlyFinishingOrClosingLeaves() {
    RunPhase p = RunPhase.WAITING;
    for (RunPhase next : new RunPhase[] {RunPhase.DRAWING, RunPhase.TRAINING, RunPhase.MERGING, RunPhase.WAITING}) {
      assertEquals(true, p.canBecome(next), p + " -> " + next);
      p = next;
    }
    for (RunPhase any : RunPhase.values()) {
      assertEquals(any != RunPhase.CLOSED, any.canBecome(RunPhase.CLOSED), any + " -> closed");
      assertEquals(false, RunPhase.FINISHED.canBecome(any) && any != RunPhase.CLOSED, "finished -> " + any);
    }
  }
}
