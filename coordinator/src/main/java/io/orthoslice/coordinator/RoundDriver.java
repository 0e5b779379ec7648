package io.orthoslice.coordinator;

import io.orthoslice.common.wire.Assignment;
import io.orthoslice.common.kernels.SideStream;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The slow work of a round, on one driver thread so rounds open and close strictly in order:
 * drawing a round's projectors and assignments (DRAWING), merging, evaluating and checkpointing
 * (MERGING). Every change of the run's state goes through the {@link Coordinator}'s locked
 * transitions; the work itself runs outside the lock, so requests are answered meanwhile. A failure
 * here stops the run loudly (the executor would otherwise keep the exception to itself).
 */
final class RoundDriver {

  /** A round about to be drawn: its number, participants, data cursor and starting weights version. */
  record Draw(long round, List<String> participants, long cursor, long weightsVersion) {}

  private static final Logger LOG = LoggerFactory.getLogger(RoundDriver.class);

  private final Coordinator run;
  private final RunSettings settings;
  private final RoundPlanner planner;
  private final RoundMerger merger;
  private final RoundEvaluation evaluation;
  private final Checkpointer checkpointer;
  private final Consumer<RoundResult> listener;
  private final CoordinatorMetrics metrics;
  /** Opens and merges rounds; its device work, like the two below, runs on the merge device's side stream. */
  private final ScheduledExecutorService thread;
  /** A merged round's reads of the device weights (host copy, buffers, validation copy), in round order. */
  private final ExecutorService readers;
  /** A merged round's validation pass, line and checkpoint, in round order. */
  private final ExecutorService recorders;
  /** The last merged round's reads, which the next merge waits for (done when none). */
  private Future<?> deviceReads = CompletableFuture.completedFuture(null);
  /** The last merged round's record (done when none). */
  private Future<?> recorded = CompletableFuture.completedFuture(null);

  RoundDriver(Coordinator run, RunSettings settings, RoundMerger merger, RoundEvaluation evaluation,
      Checkpointer checkpointer, Consumer<RoundResult> listener, CoordinatorMetrics metrics) {
    this.run = run;
    this.settings = settings;
    this.planner = new RoundPlanner(settings);
    this.merger = merger;
    this.evaluation = evaluation;
    this.checkpointer = checkpointer;
    this.listener = listener;
    this.metrics = metrics;
    this.thread = Executors.newSingleThreadScheduledExecutor(SideStream.threads("coordinator-driver", merger.device()));
    this.readers = Executors.newSingleThreadExecutor(SideStream.threads("coordinator-reads", merger.device()));
    this.recorders = Executors.newSingleThreadExecutor(SideStream.threads("coordinator-records", merger.device()));
  }

  RoundPlanner planner() {
    return planner;
  }

  /** Evaluates the starting weights (or takes the checkpoint's loss), opens the first round; sweeps heartbeats. */
  void start(long firstRound, RunHistory history, Runnable sweep) {
    thread.execute(() -> {
      if (firstRound >= settings.rounds()) {
        run.finishAtStart("resumed after its last round (" + settings.rounds() + "): nothing left to run");
        return;
      }
      try {
        WeightsSnapshot w = run.broadcasts().current();
        double known = history.validationLoss();
        history.started(Double.isNaN(known) ? evaluation.evaluate(w) : known);
        metrics.started(firstRound, w.version(), history.initialValidationLoss());
        LOG.info("starting at round {} with weights version {}: validation loss {}", firstRound + 1, w.version(),
            String.format(Locale.ROOT, "%.4f", history.initialValidationLoss()));
        tryOpen();
      } catch (RuntimeException | Error e) {
        stop(e, "the start (evaluating the first weights)");
      }
    });
    long period = Math.max(10, settings.heartbeatTimeout().toMillis() / 4);
    thread.scheduleAtFixedRate(sweep, period, period, TimeUnit.MILLISECONDS);
  }

  void execute(Runnable r) {
    thread.execute(r);
  }

  /** Closes {@code r} after {@code grace} (a round with its quorum; a no-op if it has closed by then). */
  void closeAfter(OpenRound r, java.time.Duration grace) {
    try {
      thread.schedule(() -> closeRound(r), grace.toMillis(), TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException e) {
      LOG.debug("round {}: not closed after its grace, the coordinator is shutting down", r.round + 1);
    }
  }

  /** WAITING -> DRAWING -> TRAINING when enough workers are live. */
  void tryOpen() {
    Draw d = run.beginDraw(planner);
    if (d == null) {
      return;
    }
    OpenRound r;
    Map<String, Assignment> made;
    try {
      r = planner.open(d.round(), d.participants(), d.cursor());
      made = planner.assignments(r, d.weightsVersion(), System.currentTimeMillis() + settings.roundTimeout().toMillis());
    } catch (RuntimeException | Error e) {
      stop(e, "the draw of round " + (d.round() + 1));
      return;
    }
    run.publish(r, made, thread.schedule(() -> closeRound(r), settings.roundTimeout().toMillis(),
        TimeUnit.MILLISECONDS));
  }

  /**
   * TRAINING -> MERGING -> WAITING (or FINISHED): merge, publish, open the next round. Then, while
   * that round trains, in two ordered stages off this thread: what must be read from the device
   * weights before the next merge changes them (the host copy of the new version, the merger's buffers
   * when a checkpoint is due, the validation pass's copy: {@link #readDevice}), then the validation
   * pass, the round's line and the checkpoint ({@link #record}; the last round's before the run
   * finishes). A merge waits only for the last round's reads. With overlap the next round opens before
   * the merge: its workers train on their own continuation and fetch this merge when they have
   * submitted (the fetch waits for it).
   */
  void closeRound(OpenRound r) {
    try {
      List<Submission> received = run.beginMerge(r);
      if (received == null) {
        return; // already closed: the deadline and the last update both asked
      }
      UpdateScreen.Outcome screened = UpdateScreen.screen(received, () -> run.broadcasts().current().values(),
          settings.limits().outlierFactor(), settings.rules().denseChanges(),
          io.orthoslice.common.round.RoundMerge.expectedShapes(settings.model(), settings.mode(), settings.rank()));
      for (UpdateScreen.Dropped d : screened.dropped()) {
        LOG.warn("round {}: left out the update of {} (slot {}): {}", r.round + 1, d.submission().workerId(),
            d.submission().slot(), d.why());
        metrics.refused("outlier");
      }
      List<Submission> subs = screened.kept();
      boolean last = evaluation.lastRound(r.round);
      boolean early = settings.rules().overlap() && !last;
      double roundSeconds = 0;
      if (early) {
        run.advance(r, planner.cursorAfter(r), !subs.isEmpty());
        roundSeconds = (System.nanoTime() - r.openedNanos) / 1e9;
        tryOpen(); // the next round trains while this one merges
      }
      if (!done(deviceReads)) {
        return; // the last round's reads failed: the run is stopping
      }
      RoundMerger.Outcome o = merger.close(r, subs, run.broadcasts(), evaluation);
      LOG.info("round {} merged in {}", r.round + 1, merger.lastPhases());
      ResumeState state = run.completeMerge(r, o, planner.cursorAfter(r), early);
      if (!early) {
        roundSeconds = (System.nanoTime() - r.openedNanos) / 1e9;
        if (!last && run.endRound(r, false)) {
          tryOpen(); // the workers go on while this round is evaluated
        }
      }
      double seconds = roundSeconds;
      Future<?> earlier = recorded;
      CompletableFuture<DeviceReads> reads = CompletableFuture.supplyAsync(() -> readDevice(r, o, earlier), readers);
      deviceReads = reads;
      recorded = reads.thenAcceptAsync(d -> record(r, o, state, d, subs, seconds, last), recorders);
    } catch (RuntimeException | Error e) {
      stop(e, "round " + (r.round + 1));
    }
  }

  /** What a merged round's aftermath read from the device before the next merge. */
  private record DeviceReads(Map<String, float[]> mergerState, ValidationLoss.Pass validation, double seconds) {}

  /**
   * Reads what the next merge would change: the host copy of the new version (checkpoints, full
   * fetches), the merger's buffers when a checkpoint is due, and the validation pass's copy. The copy
   * waits for the round before's validation pass, so at most two copies exist.
   */
  private DeviceReads readDevice(OpenRound r, RoundMerger.Outcome o, Future<?> earlier) {
    try {
      o.after().materialize();
      Map<String, float[]> mergerState = evaluation.checkpointDue(r.round) ? merger.state() : null;
      done(earlier);
      long t0 = System.nanoTime();
      ValidationLoss.Pass pass = evaluation.prepare(o.result(), o.after());
      return new DeviceReads(mergerState, pass, (System.nanoTime() - t0) / 1e9);
    } catch (RuntimeException | Error e) {
      stop(e, "round " + (r.round + 1)); // its host copy or its validation's copy
      throw e;
    }
  }

  /** The validation pass, the round's line and metrics, and the checkpoint when one is due; in round order. */
  private void record(OpenRound r, RoundMerger.Outcome o, ResumeState state, DeviceReads reads,
      List<Submission> subs, double roundSeconds, boolean last) {
    try (ValidationLoss.Pass pass = reads.validation()) {
      RoundResult result = evaluation.validated(o.result().withRoundSeconds(roundSeconds), pass, reads.seconds(),
          run.record().validationLoss());
      run.recordResult(result);
      LOG.info(result.line(settings.rounds()));
      metrics.merged(result, subs.stream().mapToLong(Submission::tokens).sum(), roundSeconds);
      listener.accept(result);
      if (reads.mergerState() != null) {
        checkpointer.save(state.withMergerState(reads.mergerState()).withValidationLoss(
            run.record().validationLoss()), result);
      }
      if (last) {
        run.endRound(r, true);
      }
    } catch (RuntimeException | Error e) {
      stop(e, "round " + (r.round + 1)); // its validation, its line or its checkpoint
      throw e;
    }
  }

  /** Waits for {@code f}; false when it failed (the run is stopping then). */
  private static boolean done(Future<?> f) {
    try {
      f.get();
      return true;
    } catch (ExecutionException | CancellationException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  /**
   * Stops the run on a failure inside one of the driver's tasks, with one line (the trace at debug).
   * Errors are caught too: one thrown in an executor task would vanish there and leave the run waiting
   * forever in its merge (seen with a 50k vocabulary under launch's 1 GiB coordinator heap).
   */
  private void stop(Throwable e, String what) {
    if (e instanceof RejectedExecutionException && thread.isShutdown()) {
      // shutdown() came while this task was still scheduling the next one: the run is ending anyway.
      LOG.debug("{}: not continued, the coordinator is shutting down", what);
      return;
    }
    String why = e instanceof OutOfMemoryError
        ? what + " ran out of memory (" + e.getMessage() + "; this coordinator's heap is "
            + (Runtime.getRuntime().maxMemory() >> 20) + " MiB): give it more with -Xmx, e.g."
            + " ORTHOSLICE_JAVA_OPTS=-Xmx8g (launch and sweep pass it to their children)"
        : what + " failed: " + e.getMessage();
    LOG.error("{}; stopping the run", why);
    LOG.debug("the failure", e);
    run.fail(e instanceof RuntimeException re ? re : new IllegalStateException(why, e), why);
  }

  void shutdown() {
    thread.shutdownNow();
    readers.shutdownNow();
    recorders.shutdownNow();
    try {
      if (thread.awaitTermination(10, TimeUnit.SECONDS) && readers.awaitTermination(10, TimeUnit.SECONDS)
          && recorders.awaitTermination(10, TimeUnit.SECONDS)) {
        merger.close();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    planner.close();
  }
}
