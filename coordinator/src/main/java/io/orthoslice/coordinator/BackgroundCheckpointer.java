package io.orthoslice.coordinator;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Writes checkpoints off the round's critical path: the driver hands a round's state over and opens
 * the next round while one writer thread persists it (to a temporary directory, renamed into place:
 * a crash mid-write leaves the previous checkpoint as the newest). At most one write is in flight: a
 * save due while the one before is still being written is skipped (said in the log), so a round never
 * waits for the disk, and checkpoints come as often as the disk allows; the last round's checkpoint is
 * always written, after the one in flight, before the run ends. A failed write fails the next save, or
 * {@link #close}, with its own message, which stops the run on the weights of the last good checkpoint.
 */
public final class BackgroundCheckpointer implements Checkpointer, AutoCloseable {

  private final Checkpointer target;
  private final long rounds;
  private final ExecutorService writer = Executors.newSingleThreadExecutor(r -> {
    Thread t = new Thread(r, "checkpoint-writer");
    t.setDaemon(true);
    return t;
  });
  private Future<?> pending = CompletableFuture.completedFuture(null);
  private long pendingRound = -1;
  private int skipped;

  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(BackgroundCheckpointer.class);

  /** @param rounds the run's rounds: the checkpoint after the last is written before {@link #save} returns */
  public BackgroundCheckpointer(Checkpointer target, long rounds) {
    this.target = target;
    this.rounds = rounds;
  }

  @Override
  public synchronized void save(ResumeState state, RoundResult result) {
    boolean last = result.round() + 1 >= rounds;
    if (!last && !pending.isDone()) {
      skipped++;
      LOG.info("checkpoint after round {} skipped: the one after round {} is still being written", result.round() + 1,
          pendingRound + 1);
      return;
    }
    awaitPending();
    ResumeState own = state; // its merger buffers are host copies made for it; its weights never change
    if (last) {
      target.save(own, result);
    } else {
      pendingRound = result.round();
      pending = writer.submit(() -> target.save(own, result));
    }
  }

  /** Whether a write is in flight. */
  synchronized boolean writing() {
    return !pending.isDone();
  }

  /** Checkpoints skipped because the one before was still being written. */
  public synchronized int skipped() {
    return skipped;
  }

  /** Waits for the write in flight; rethrows its failure. */
  public synchronized void awaitPending() {
    try {
      pending.get();
    } catch (ExecutionException e) {
      pending = CompletableFuture.completedFuture(null);
      if (e.getCause() instanceof RuntimeException r) {
        throw r;
      }
      if (e.getCause() instanceof Error err) {
        throw err;
      }
      throw new IllegalStateException(e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while a checkpoint was being written", e);
    }
  }

  /** Finishes the write in flight (its failure is thrown), then stops the writer. */
  @Override
  public void close() {
    try {
      awaitPending();
    } finally {
      writer.shutdown();
    }
  }
}
