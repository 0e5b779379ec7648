package io.orthoslice.coordinator;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Who is in the run: workers in join order with the time of their last sign of life. Its methods
 * lock the membership itself (the {@link Coordinator} calls them under its own lock, never the
 * other way round), so the end of a run can wait for the last worker to leave without that lock.
 */
final class Membership {

  private final Map<String, Long> lastSeenMs = new LinkedHashMap<>();
  private long joined;

  /** Registers a worker and returns its id ({@code w<n>-<name>}, unique within the run). */
  synchronized String join(String name) {
    String clean = name == null || name.isBlank() ? "worker" : name.replaceAll("[^A-Za-z0-9._-]", "_");
    String id = "w" + joined++ + "-" + clean;
    lastSeenMs.put(id, System.currentTimeMillis());
    return id;
  }

  synchronized boolean contains(String id) {
    return lastSeenMs.containsKey(id);
  }

  synchronized void seen(String id) {
    lastSeenMs.replace(id, System.currentTimeMillis());
  }

  synchronized boolean leave(String id) {
    boolean left = lastSeenMs.remove(id) != null;
    notifyAll();
    return left;
  }

  /** Drops every worker silent for longer than {@code timeout}; returns their ids. */
  synchronized List<String> expire(java.time.Duration timeout) {
    long cutoffMs = System.currentTimeMillis() - timeout.toMillis();
    List<String> gone = new ArrayList<>();
    lastSeenMs.entrySet().removeIf(e -> {
      if (e.getValue() < cutoffMs) {
        gone.add(e.getKey());
        return true;
      }
      return false;
    });
    notifyAll();
    return gone;
  }

  /** Live workers in join order. */
  synchronized List<String> live() {
    return new ArrayList<>(lastSeenMs.keySet());
  }

  synchronized int size() {
    return lastSeenMs.size();
  }

  /** Waits until no worker is left, or the time-out; returns whether none is. */
  synchronized boolean awaitEmpty(java.time.Duration timeout) throws InterruptedException {
    long end = System.nanoTime() + timeout.toNanos();
    while (!lastSeenMs.isEmpty()) {
      long left = end - System.nanoTime();
      if (left <= 0) {
        return false;
      }
      java.util.concurrent.TimeUnit.NANOSECONDS.timedWait(this, left);
    }
    return true;
  }
}
