package io.orthoslice.coordinator;

import io.orthoslice.common.wire.Assignment;

import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * Workers long-polling for their next assignment: at most one pending poll per worker (a newer
 * one cancels the older), answered when a round that includes the worker opens, or when the run
 * ends. Not thread-safe; the {@link Coordinator} guards it with its lock.
 */
final class RoundWaiters {

  private record Waiter(long wantedRound, CompletableFuture<Assignment> future) {}

  private final Map<String, Waiter> waiting = new HashMap<>();

  /**
   * This worker's assignment in the open round when it takes part and still owes an update for a
   * round numbered {@code >= wantedRound}; FINISHED once the run is; else a poll answered later.
   */
  CompletableFuture<Assignment> await(String workerId, long wantedRound, OpenRound open, boolean finished) {
    if (finished) {
      return CompletableFuture.completedFuture(Assignment.FINISHED);
    }
    Assignment now = open == null ? null : open.pendingFor(workerId, wantedRound);
    return now != null ? CompletableFuture.completedFuture(now) : await(workerId, wantedRound);
  }

  private CompletableFuture<Assignment> await(String workerId, long wantedRound) {
    CompletableFuture<Assignment> f = new CompletableFuture<>();
    Waiter old = waiting.put(workerId, new Waiter(wantedRound, f));
    if (old != null) {
      old.future.cancel(false);
    }
    return f;
  }

  /** Answers every waiter that takes part in {@code r} and wants a round no later than it. */
  void offer(OpenRound r) {
    waiting.entrySet().removeIf(e -> {
      Assignment a = r.assignment(e.getKey());
      if (a != null && r.round >= e.getValue().wantedRound) {
        e.getValue().future.complete(a);
        return true;
      }
      return false;
    });
  }

  /** A worker that left: its poll learns the run is over for it. */
  void finish(String workerId) {
    Waiter w = waiting.remove(workerId);
    if (w != null) {
      w.future.complete(Assignment.FINISHED);
    }
  }

  /** A worker that was dropped: its poll is cancelled (it will learn NOT_FOUND on its next call). */
  void cancel(String workerId) {
    Waiter w = waiting.remove(workerId);
    if (w != null) {
      w.future.cancel(false);
    }
  }

  void finishAll() {
    waiting.values().forEach(w -> w.future.complete(Assignment.FINISHED));
    waiting.clear();
  }

  void failAll(RuntimeException why) {
    waiting.values().forEach(w -> w.future.completeExceptionally(why));
    waiting.clear();
  }
}
