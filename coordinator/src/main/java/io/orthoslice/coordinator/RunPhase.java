package io.orthoslice.coordinator;

import java.util.EnumMap;
import java.util.EnumSet;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The phases of a run on the coordinator and the only transitions between them (Apache Ratis'
 * {@code LifeCycle} is the model). Rounds go WAITING -> DRAWING -> TRAINING -> MERGING and back to
 * WAITING, until the last merge (or a failure) ends the run in FINISHED; CLOSED is the shutdown,
 * reachable from everywhere.
 *
 * <pre>
 *   WAITING  -> DRAWING (enough live workers) | FINISHED (nothing left to run) | CLOSED
 *   DRAWING  -> TRAINING (assignments published) | FINISHED (the draw failed) | CLOSED
 *   TRAINING -> MERGING (every live participant submitted, or the deadline) | FINISHED (failed) | CLOSED
 *   MERGING  -> WAITING (the next round may open) | FINISHED (last round, or a failure) | CLOSED
 *   FINISHED -> CLOSED
 * </pre>
 */
enum RunPhase {
  /** No round is open: waiting for enough live workers. */
  WAITING,
  /** A round's plan and assignments are being made (outside the lock); workers do not see it yet. */
  DRAWING,
  /** A round is open: its assignments are out and updates are accepted. */
  TRAINING,
  /** The round no longer accepts updates; it is merged, evaluated and checkpointed. */
  MERGING,
  /** The run is over: every poll learns so; no round opens again. */
  FINISHED,
  /** Shut down: every call is UNAVAILABLE. */
  CLOSED;

  private static final Map<RunPhase, Set<RunPhase>> NEXT = new EnumMap<>(Map.of(
      WAITING, EnumSet.of(DRAWING, FINISHED, CLOSED),
      DRAWING, EnumSet.of(TRAINING, FINISHED, CLOSED),
      TRAINING, EnumSet.of(MERGING, FINISHED, CLOSED),
      MERGING, EnumSet.of(WAITING, FINISHED, CLOSED),
      FINISHED, EnumSet.of(CLOSED),
      CLOSED, EnumSet.noneOf(RunPhase.class)));

  boolean canBecome(RunPhase next) {
    return NEXT.get(this).contains(next);
  }

  String label() {
    return name().toLowerCase(Locale.ROOT);
  }
}
