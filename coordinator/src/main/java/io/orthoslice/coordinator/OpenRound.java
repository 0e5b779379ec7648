package io.orthoslice.coordinator;

import io.orthoslice.common.wire.Assignment;

import io.orthoslice.common.round.RoundPlan;
import io.orthoslice.coordinator.CoordinatorException.Code;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ScheduledFuture;
import java.util.function.Predicate;

/**
 * The round in progress: its plan, participants and their assignments, the updates received so
 * far and its deadline. Workers see it once the coordinator publishes it (phase TRAINING); it
 * accepts updates until it closes, exactly once (phase MERGING). Not thread-safe; the {@link
 * Coordinator} guards it with its lock.
 */
final class OpenRound {

  final long round;
  final RoundPlan plan;
  final List<String> participants;
  final long cursorStart;
  final long openedNanos = System.nanoTime();
  private final Map<String, Assignment> assignments = new LinkedHashMap<>();
  private final Map<Integer, Submission> submissions = new TreeMap<>();
  private boolean graceStarted;
  /** Slots whose update was refused for its content: nothing more is coming from them this round. */
  private final java.util.Set<Integer> refused = new java.util.HashSet<>();
  private ScheduledFuture<?> deadline;
  private boolean closed;

  OpenRound(long round, RoundPlan plan, List<String> participants, long cursorStart) {
    this.round = round;
    this.plan = plan;
    this.participants = List.copyOf(participants);
    this.cursorStart = cursorStart;
  }

  /** The round's assignments and the deadline that will close it. */
  void publish(Map<String, Assignment> made, ScheduledFuture<?> closesAt) {
    assignments.putAll(made);
    deadline = closesAt;
  }

  boolean accepting() {
    return !closed;
  }

  Assignment assignment(String workerId) {
    return assignments.get(workerId);
  }

  /** The assignment {@code workerId} can still train for in this round (numbered >= wanted), else null. */
  Assignment pendingFor(String workerId, long wantedRound) {
    Assignment a = assignments.get(workerId);
    return !closed && round >= wantedRound && a != null && !submissions.containsKey(a.slot()) ? a : null;
  }

  /** True when every participant still alive has submitted, or had its update refused. */
  boolean complete(Predicate<String> alive) {
    for (Map.Entry<String, Assignment> e : assignments.entrySet()) {
      int slot = e.getValue().slot();
      if (!submissions.containsKey(slot) && !refused.contains(slot) && alive.test(e.getKey())) {
        return false;
      }
    }
    return true;
  }

  /** Updates accepted so far. */
  int received() {
    return submissions.size();
  }

  /** Marks the quorum's grace as started; false when it already was (so it starts once). */
  boolean startGrace() {
    if (graceStarted) {
      return false;
    }
    graceStarted = true;
    return true;
  }

  void accept(Submission s) {
    refused.remove(s.slot()); // a valid update after a refused one still counts
    submissions.put(s.slot(), s);
  }

  /** The slot's update was refused for its content: the round need not wait for it. */
  void refuse(int slot) {
    if (!submissions.containsKey(slot)) {
      refused.add(slot);
    }
  }

  /** Stops accepting updates; returns those received in slot order, or null when already closed. */
  List<Submission> close() {
    if (closed) {
      return null;
    }
    closed = true;
    deadline.cancel(false);
    return new ArrayList<>(submissions.values());
  }

  /**
   * The round an update for ({@code round}, {@code slot}, weights {@code version}) belongs to, or
   * the refusal: FAILED_PRECONDITION when stale or duplicate, INVALID_ARGUMENT for a wrong slot.
   */
  static OpenRound require(OpenRound r, String workerId, long round, int slot, long version) {
    if (r == null || r.closed || r.round != round) {
      throw new CoordinatorException(Code.FAILED_PRECONDITION, "round " + (round + 1) + " is not open (its deadline"
          + " passed or it was merged); " + (r == null || r.closed ? "no round is open" : "the open round is "
          + (r.round + 1)));
    }
    Assignment a = r.assignments.get(workerId);
    if (a == null) {
      throw new CoordinatorException(Code.FAILED_PRECONDITION, "worker " + workerId + " is not a participant of round "
          + (round + 1));
    }
    if (a.slot() != slot) {
      throw new CoordinatorException(Code.INVALID_ARGUMENT, "worker " + workerId + " holds slot " + a.slot()
          + " of round " + (round + 1) + ", not slot " + slot);
    }
    if (a.weightsVersion() != version) {
      throw new CoordinatorException(Code.FAILED_PRECONDITION, "round " + (round + 1) + " starts from weights version "
          + a.weightsVersion() + ", the update was trained from version " + version);
    }
    if (r.submissions.containsKey(slot)) {
      throw new CoordinatorException(Code.FAILED_PRECONDITION, "slot " + slot + " of round " + (round + 1)
          + " was already submitted");
    }
    return r;
  }
}
