package io.orthoslice.coordinator;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Who is in the run: workers in join order with the time of their last sign of life. Not
 * thread-safe; the {@link Coordinator} guards it with its lock.
 */
final class Membership {

  private final Map<String, Long> lastSeenMs = new LinkedHashMap<>();
  private long joined;

  /** Registers a worker and returns its id ({@code w<n>-<name>}, unique within the run). */
  String join(String name, long nowMs) {
    String clean = name == null || name.isBlank() ? "worker" : name.replaceAll("[^A-Za-z0-9._-]", "_");
    String id = "w" + joined++ + "-" + clean;
    lastSeenMs.put(id, nowMs);
    return id;
  }

  boolean contains(String id) {
    return lastSeenMs.containsKey(id);
  }

  void seen(String id, long nowMs) {
    lastSeenMs.replace(id, nowMs);
  }

  boolean leave(String id) {
    return lastSeenMs.remove(id) != null;
  }

  /** Drops every worker silent since before {@code cutoffMs}; returns their ids. */
  List<String> expire(long cutoffMs) {
    List<String> gone = new ArrayList<>();
    lastSeenMs.entrySet().removeIf(e -> {
      if (e.getValue() < cutoffMs) {
        gone.add(e.getKey());
        return true;
      }
      return false;
    });
    return gone;
  }

  /** Live workers in join order. */
  List<String> live() {
    return new ArrayList<>(lastSeenMs.keySet());
  }

  int size() {
    return lastSeenMs.size();
  }
}
