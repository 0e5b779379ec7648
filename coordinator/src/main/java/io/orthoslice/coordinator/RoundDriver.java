package io.orthoslice.coordinator;

import io.orthoslice.common.wire.Assignment;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Executors;
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
  private final ScheduledExecutorService thread = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "coordinator-driver");
    t.setDaemon(true);
    return t;
  });
  /** A merged round's validation, host copy and checkpoint, in round order, beside the next round. */
  private final java.util.concurrent.ExecutorService after = Executors.newSingleThreadExecutor(r -> {
    Thread t = new Thread(r, "coordinator-aftermath");
    t.setDaemon(true);
    return t;
  });
  /** The last merged round's aftermath (done when none). */
  private java.util.concurrent.Future<?> aftermath = java.util.concurrent.CompletableFuture.completedFuture(null);

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
   * TRAINING -> MERGING -> WAITING (or FINISHED): merge, publish, open the next round; then, on the
   * aftermath thread while that round trains, the host copy of the new version, its validation (in
   * place on the device) and the checkpoint (the last round's before the run finishes). With overlap
   * the next round opens before the merge: its workers train on their own continuation and fetch this
   * merge when they have submitted (the fetch waits for it). A merge waits for the last round's
   * aftermath, which reads the device weights it would change, so the aftermath delays a round only by
   * what it takes beyond that round's training.
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
      if (!awaitAftermath()) {
        return; // the last round's aftermath failed: the run is stopping
      }
      RoundMerger.Outcome o = merger.close(r, subs, run.broadcasts(), evaluation);
      ResumeState state = run.completeMerge(r, o, planner.cursorAfter(r), early);
      if (!early) {
        roundSeconds = (System.nanoTime() - r.openedNanos) / 1e9;
        if (!last && run.endRound(r, false)) {
          tryOpen(); // the workers go on while this round is evaluated
        }
      }
      double seconds = roundSeconds;
      aftermath = after.submit(() -> afterMerge(r, o, state, subs, seconds, last));
    } catch (RuntimeException | Error e) {
      stop(e, "round " + (r.round + 1));
    }
  }

  /**
   * A merged round's aftermath, in round order on its own thread: the host copy of the new version
   * (for checkpoints and full fetches), the validation pass, the round's line and metrics, and the
   * checkpoint when one is due (a copy of the merger's buffers with it).
   */
  private void afterMerge(OpenRound r, RoundMerger.Outcome o, ResumeState state, List<Submission> subs,
      double roundSeconds, boolean last) {
    try {
      double previousLoss = run.record().validationLoss();
      o.after().materialize();
      RoundResult result = evaluation.validated(o.result().withRoundSeconds(roundSeconds), o.after(), previousLoss);
      run.recordResult(result);
      LOG.info(result.line(settings.rounds()));
      metrics.merged(result, subs.stream().mapToLong(Submission::tokens).sum(), roundSeconds);
      listener.accept(result);
      if (evaluation.checkpointDue(r.round)) {
        checkpointer.save(state.withMergerState(merger.state()).withValidationLoss(run.record().validationLoss()),
            result);
      }
      if (last) {
        run.endRound(r, true);
      }
    } catch (RuntimeException | Error e) {
      stop(e, "round " + (r.round + 1)); // its validation, its line or its checkpoint
      throw e;
    }
  }

  /** Waits for the last round's aftermath; false when it failed (the run is stopping then). */
  private boolean awaitAftermath() {
    try {
      aftermath.get();
      return true;
    } catch (java.util.concurrent.ExecutionException e) {
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
    after.shutdownNow();
    try {
      if (thread.awaitTermination(10, TimeUnit.SECONDS) && after.awaitTermination(10, TimeUnit.SECONDS)) {
        merger.close();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    planner.close();
  }
}
