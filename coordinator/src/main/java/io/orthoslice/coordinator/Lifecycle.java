package io.orthoslice.coordinator;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The run's current {@link RunPhase} and its one way of changing: {@link #transition}, which refuses
 * a transition the table does not allow and logs each one. Not thread-safe; the {@link Coordinator}
 * guards it with its lock.
 */
final class Lifecycle {

  private static final Logger LOG = LoggerFactory.getLogger(Lifecycle.class);

  private RunPhase phase;

  Lifecycle(RunPhase start) {
    this.phase = start;
  }

  RunPhase phase() {
    return phase;
  }

  boolean is(RunPhase p) {
    return phase == p;
  }

  /** Moves to {@code next} for {@code why}; an illegal transition is a bug, not a state. */
  void transition(RunPhase next, String why) {
    if (!phase.canBecome(next)) {
      throw new IllegalStateException("run phase " + phase.label() + " cannot become " + next.label() + " (" + why + ")");
    }
    LOG.debug("phase {} -> {}: {}", phase.label(), next.label(), why);
    phase = next;
  }
}
