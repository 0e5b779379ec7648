package io.orthoslice.coordinator;

/** Persists a {@link ResumeState} after a round (RoundCheckpoints writes it to disk; tests keep it). */
@FunctionalInterface
public interface Checkpointer {
  void save(ResumeState state, RoundResult result);
}
