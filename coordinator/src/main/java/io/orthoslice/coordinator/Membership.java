package io.orthoslice.coordinator;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Who is in the run: workers in join order with the time of their last sign of life and the random
 * key issued at their Join (which every later call must name: the run token only admits). Its methods
 * lock the membership itself (the {@link Coordinator} calls them under its own lock, never the
 * other way round), so the end of a run can wait for the last worker to leave without that lock.
 */
final class Membership {

  private static final SecureRandom KEYS = new SecureRandom();

  private final Map<String, Long> lastSeenMs = new LinkedHashMap<>();
  private final Map<String, byte[]> keys = new HashMap<>();
  private long joined;

  /** A worker's id ({@code w<n>-<name>}, unique within the run) and its key (128 random bits). */
  record Member(String id, String key) {}

  /** Registers a worker. */
  synchronized Member join(String name) {
    String clean = name == null || name.isBlank() ? "worker" : name.replaceAll("[^A-Za-z0-9._-]", "_");
    String id = "w" + joined++ + "-" + clean;
    byte[] secret = new byte[16];
    KEYS.nextBytes(secret);
    String key = Base64.getUrlEncoder().withoutPadding().encodeToString(secret);
    lastSeenMs.put(id, System.currentTimeMillis());
    keys.put(id, key.getBytes(StandardCharsets.US_ASCII));
    notifyAll();
    return new Member(id, key);
  }

  synchronized boolean contains(String id) {
    return lastSeenMs.containsKey(id);
  }

  /**
   * Checks that the caller is the live worker {@code id}, and marks it seen: an unknown id is
   * NOT_FOUND (join again); a known id with another key (compared in constant time) is
   * PERMISSION_DENIED, counted as {@code not_that_worker}, and no sign of that worker's life.
   */
  synchronized void check(String id, String key, Consumer<String> refused) {
    byte[] k = keys.get(id);
    if (k == null) {
      throw new CoordinatorException(CoordinatorException.Code.NOT_FOUND, "unknown worker id '" + id
          + "' (never joined, left, or timed out); join again");
    }
    if (key == null || !MessageDigest.isEqual(k, key.getBytes(StandardCharsets.US_ASCII))) {
      refused.accept("not_that_worker");
      throw new CoordinatorException(CoordinatorException.Code.PERMISSION_DENIED, "the worker key does not match"
          + " worker id '" + id + "' (a worker's calls carry the key its own Join returned)");
    }
    lastSeenMs.replace(id, System.currentTimeMillis());
  }

  synchronized boolean leave(String id) {
    boolean left = lastSeenMs.remove(id) != null;
    keys.remove(id);
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
        keys.remove(e.getKey());
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

  /**
   * Waits until at least {@code joins} workers have joined since the start and none is left, or the
   * time-out; returns whether that happened.
   */
  synchronized boolean awaitJoinedAndLeft(long joins, java.time.Duration timeout) throws InterruptedException {
    long end = System.nanoTime() + timeout.toNanos();
    while (joined < joins || !lastSeenMs.isEmpty()) {
      long left = end - System.nanoTime();
      if (left <= 0) {
        return false;
      }
      java.util.concurrent.TimeUnit.NANOSECONDS.timedWait(this, left);
    }
    return true;
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
