package io.orthoslice.coordinator;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * What a run has done so far: each merged round's result, the validation losses, how it ended (the
 * failure that stopped it, if one did) and a latch for whoever waits for its end. Thread-safe.
 */
public final class RunHistory {

  private final List<RoundResult> rounds = new ArrayList<>();
  private final CountDownLatch done = new CountDownLatch(1);
  private final CompletableFuture<Void> end = new CompletableFuture<>();
  private volatile double validationLoss;
  private volatile double initialValidationLoss = Double.NaN;
  private RuntimeException failure;

  RunHistory(double validationLoss) {
    this.validationLoss = validationLoss;
  }

  synchronized void add(RoundResult r) {
    rounds.add(r);
    if (!Double.isNaN(r.validationLoss())) {
      validationLoss = r.validationLoss();
    }
  }

  public synchronized List<RoundResult> rounds() {
    return List.copyOf(rounds);
  }

  synchronized boolean empty() {
    return rounds.isEmpty();
  }

  /** The loss after the last merge (or of the starting weights). */
  double validationLoss() {
    return validationLoss;
  }

  void started(double initial) {
    initialValidationLoss = initial;
    validationLoss = initial;
  }

  public double initialValidationLoss() {
    return initialValidationLoss;
  }

  synchronized void failed(RuntimeException e) {
    failure = e;
  }

  public synchronized Optional<RuntimeException> failure() {
    return Optional.ofNullable(failure);
  }

  void ended() {
    done.countDown();
    end.complete(null);
  }

  /** Runs {@code r} when the run ends (at once if it has). */
  public void onEnd(Runnable r) {
    end.thenRun(r);
  }

  /** Waits for the run to end (finished or stopped); false on time-out. */
  public boolean awaitEnd(Duration timeout) throws InterruptedException {
    return done.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
  }
}
