package io.orthoslice.worker;

import io.orthoslice.common.config.DeviceSpec;
import io.orthoslice.common.round.ReplicaWeights;
import io.orthoslice.common.round.RoundPlan;
import io.orthoslice.common.round.RoundPlanCache;
import io.orthoslice.common.data.TokenWindows;
import io.orthoslice.common.wire.Assignment;
import io.orthoslice.common.wire.RunDescription;
import io.orthoslice.common.wire.UpdateReport;
import io.orthoslice.common.wire.WireTensor;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A distributed worker: joins, then round after round brings its weights (held on its device) up to
 * the round's version, rebuilds and verifies its slice, trains its local steps and submits the
 * update, until the run ends. It heals
 * itself: when the coordinator forgets it (NOT_FOUND: it was restarted, or dropped this worker) or
 * goes away mid-call (UNAVAILABLE after the client's back-off), the worker joins again, with the
 * client's back-off, and takes the coordinator's current round; nobody has to restart it.
 */
public final class Worker implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(Worker.class);

  /** What this worker did. */
  public record Summary(String workerId, int roundsTrained, int roundsLate, long bytesSent, long bytesReceived,
      double lastLoss, int rejoins) {}

  private final RoundClient client;
  private final String name;
  private final String device;
  private final boolean preferRoundUpdates;
  private final WorkerMetrics metrics;
  private final ScheduledExecutorService heartbeats = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "worker-heartbeat");
    t.setDaemon(true);
    return t;
  });
  private final AtomicBoolean left = new AtomicBoolean();
  /** The coordinator said on the presence stream that the run finished (its last checkpoint written). */
  private final AtomicBoolean runFinished = new AtomicBoolean();
  /** Overlap: fetches the last round's merge while this round trains. */
  private final java.util.concurrent.ExecutorService background = Executors.newSingleThreadExecutor(r -> {
    Thread t = new Thread(r, "worker-prefetch");
    t.setDaemon(true);
    return t;
  });
  private volatile String workerId;
  private volatile String workerKey;
  private Runnable presence = () -> {};
  private int rejoins;
  private long bytesReceived;
  private Consumer<String> joinedListener = id -> {};
  private double slowDown = 1;

  /**
   * @param preferRoundUpdates fetch the round update instead of the weights when one exists
   */
  public Worker(RoundClient client, String name, String device, boolean preferRoundUpdates) {
    this(client, name, device, preferRoundUpdates, WorkerMetrics.unregistered());
  }

  public Worker(RoundClient client, String name, String device, boolean preferRoundUpdates,
      WorkerMetrics metrics) {
    this.metrics = metrics;
    this.client = client;
    this.name = name;
    this.device = device;
    this.preferRoundUpdates = preferRoundUpdates;
  }

  /**
   * Makes this worker a simulated slower machine: every local step is followed by a sleep of {@code factor - 1}
   * times its own seconds (the worker's {@code --slow-down}; 1 = off). For measuring stragglers.
   */
  public Worker slowedDown(double factor) {
    if (!(factor >= 1)) {
      throw new IllegalArgumentException("--slow-down must be >= 1, got " + factor);
    }
    this.slowDown = factor;
    return this;
  }

  /** Calls {@code listener} with the worker id once joined (the CLI puts it into every log line). */
  public Worker onJoined(Consumer<String> listener) {
    this.joinedListener = listener;
    return this;
  }

  /**
   * Runs until the coordinator says the run is finished: join, then each round fetch the weights when
   * stale (the factored update when it applies), rebuild and check the slice, train, submit.
   *
   * @param openData opens the training windows the run describes (dataset, seq-len, seed)
   */
  public Summary run(Function<RunDescription, TokenWindows> openData) throws Exception {
    RoundClient.Joined joined = join();
    RunDescription run = joined.run();
    TokenWindows data = openData.apply(run);
    if (!data.datasetId().equals(run.datasetId())) {
      throw new IllegalArgumentException("this worker's dataset " + data.datasetId() + " is not the run's "
          + run.datasetId() + "; use the same --data / --tokenizer as the coordinator");
    }
    LOG.info("joined as {}: {} mode, rank {}, {} local steps", workerId, run.config().roundMode().label(), run.config().rank(),
        run.config().localSteps());
    metrics.runInfo(run.config().rank(), run.config().trainConfig().method().method().name(), run.config().roundMode().label());
    metrics.joined();
    long period = Math.max(50, joined.heartbeatIntervalMs());
    heartbeats.scheduleAtFixedRate(this::beat, period, period, TimeUnit.MILLISECONDS);

    long nextRound = 0;
    // Overlap: the last round's merge being fetched and applied in the background (null when none is).
    CompletableFuture<Ahead> inFlight = null;
    boolean overlap = run.config().rules().overlap();
    long lastSubmitted = -1; // the round whose update this worker's continuation holds (overlap), or -1
    double carriedFetch = 0; // fetch seconds spent after the last submit, reported with the next update
    int trained = 0;
    int late = 0;
    long sent = 0;
    double lastLoss = Double.NaN;
    boolean toldByPoll = false;
    // Training runs on the worker's own device (every --gpus entry of a launch is one), never DJL's
    // default; the shared weights stay there between rounds.
    ai.djl.Device dev = DeviceSpec.parse(device);
    try (ReplicaWeights weights = new ReplicaWeights(run.model(), dev);
        LocalTraining local = new LocalTraining(run.model(), dev, run.config().trainConfig(), run.config().rules(),
            slowDown);
        RoundPlanCache plans = new RoundPlanCache(run.model())) {
      try {
        while (!runFinished.get()) {
          long w0 = System.nanoTime();
          try {
            Assignment a = client.awaitRound(workerId, workerKey, nextRound);
            double waitSeconds = (System.nanoTime() - w0) / 1e9;
            metrics.waited(waitSeconds);
            double fetchSeconds = 0;
            if (a.finished()) {
              toldByPoll = true;
              break;
            }
            metrics.assigned(a.round(), a.slot(), a.weightsVersion());
            // Overlap: a worker that submitted the last round trains this one on its own continuation
            // (the weights one version behind plus its own last change), while the last round's merge,
            // the version this one's updates merge into, is fetched in the background.
            boolean continuing = overlap && lastSubmitted == a.round() - 1 && weights.version() >= 0
                && weights.version() == a.weightsVersion() - 1;
            inFlight = null;
            CompletableFuture<Void> startCopied = new CompletableFuture<>();
            fetchSeconds = carriedFetch;
            carriedFetch = 0;
            if (!continuing) {
              local.dropContinuation();
              fetchSeconds += bringUpTo(weights, a.weightsVersion());
            } else if (preferRoundUpdates) {
              // The last round's merge is fetched now and added to the shared weights as soon as this round has
              // copied its start out of them, while it trains (on the device's side stream): after the submit
              // nothing is left to apply.
              long from = weights.version();
              inFlight = CompletableFuture.supplyAsync(() -> client.fetchRoundUpdate(workerId, from), background)
                  .thenCombineAsync(startCopied, (fetched, copied) -> applyAhead(weights, fetched, dev), background);
            }
            // The slice is rebuilt from the seed (once per draw: slices may live several rounds); a
            // checksum mismatch means the two sides would train and merge different subspaces, so it
            // stops the worker rather than diverge silently. The next draw's plan is drawn in the background
            // while this round trains, from the end of its setup (a no-op in mode full).
            long p0 = System.nanoTime();
            RoundPlan plan = !run.config().roundMode().projected() ? null
                : plans.get(run.config().roundMode(), a.runSeed(), a.projectionDraw(), a.participants(), run.config().rank());
            int checksum = plan == null ? 0 : plan.checksum(a.slot());
            if (checksum != a.sliceChecksum()) {
              throw new IllegalStateException("slice checksum mismatch in round " + (a.round() + 1) + " slot "
                  + a.slot() + ": coordinator " + Integer.toHexString(a.sliceChecksum()) + ", worker "
                  + Integer.toHexString(checksum));
            }
            long t0 = System.nanoTime();
            double planSeconds = (t0 - p0) / 1e9;
            LocalTraining.Result r;
            try {
              r = local.round(weights.arrays(), plan, a.slot(), a.globalStep(), a.localSteps(), a.dataPosition(), data,
                  metrics, continuing, () -> startCopied.complete(null),
                  // The next draw's plan, drawn on every core, once this round's trainer is built: started earlier, it
                  // competed with the setup for the host's cores (docs/PERFORMANCE.md, "One card, two roles").
                  // Its slot's checksum and float32 slices are made there too (the slot is guessed: this one).
                  () -> plans.prefetch(run.config().roundMode(), a.runSeed(), run.config().rules().draw(a.round() + 1),
                      a.participants(), run.config().rank(), a.slot()));
            } finally {
              // A round that failed before its start was copied: the weights are not to be touched behind it.
              startCopied.completeExceptionally(new java.util.concurrent.CancellationException("the round failed"));
            }
            double trainSeconds = (System.nanoTime() - t0) / 1e9;
            metrics.trained(trainSeconds, r.tokens(), r.memory());
            if (runFinished.get()) {
              break; // the run finished while this round trained (a straggler's last round): nobody takes it
            }
            UpdateReport report = new UpdateReport(workerId, workerKey, a.round(), a.slot(), a.weightsVersion(),
                r.meanLoss(), r.tokens(), r.stepSeconds(), fetchSeconds, waitSeconds, trainSeconds);
            try {
              long n = client.submit(report, r.tensors());
              lastSubmitted = a.round();
              sent += n;
              metrics.sent(n);
              trained++;
              lastLoss = r.meanLoss();
              LOG.info("round {} slot {}: mean loss {}, {} s/step, fetch {} s, train {} s ({}); waited {} s for the round"
                  + " and {} s for its plan", a.round() + 1, a.slot(),
                  String.format(Locale.ROOT, "%.4f", r.meanLoss()), String.format(Locale.ROOT, "%.3f", r.stepSeconds()),
                  String.format(Locale.ROOT, "%.3f", fetchSeconds), String.format(Locale.ROOT, "%.3f", trainSeconds),
                  r.phases(), String.format(Locale.ROOT, "%.3f", waitSeconds), String.format(Locale.ROOT, "%.3f", planSeconds));
            } catch (LateUpdateException e) {
              // Late: the round merged without us. Our slice is lost, nothing else; take the next round.
              late++;
              metrics.late();
              LOG.warn("update refused ({}); moving on", e.getMessage());
              lastSubmitted = -1; // its change was not merged: the next round starts from the weights alone
            }
            if (continuing) {
              // The last round's merge (the version this round's update merges into), fetched and applied while
              // it trained; what waiting for it costs is reported with the next update.
              long f0 = System.nanoTime();
              Ahead ahead = inFlight == null ? null : join(inFlight);
              if (ahead != null && ahead.applied()) {
                metrics.fetched(true, ahead.bytes(), ahead.seconds() + (System.nanoTime() - f0) / 1e9);
              } else {
                bringUpTo(weights, a.weightsVersion());
              }
              carriedFetch = (System.nanoTime() - f0) / 1e9;
            }
            nextRound = a.round() + 1;
          } catch (CoordinatorLostException e) {
            settle(inFlight); // the weights are reloaded below: nothing may still be adding to them
            if (runFinished.get()) {
              break; // gone after saying the run finished: nothing to join again
            }
            // The coordinator forgot this worker (restarted, or dropped it) or went away mid-call:
            // whatever this round had done is lost with it; join again and take its current round.
            rejoin(run, e);
            weights.invalidate(); // a restarted coordinator's versions are its checkpoint's: fetch afresh
            lastSubmitted = -1;
            nextRound = 0; // the coordinator's open round, whichever it is
          } catch (StaleRoundException e) {
            settle(inFlight);
            // The weights asked for are gone (the round closed meanwhile): ask for the current round.
            LOG.warn("{}; asking for the current round", e.getMessage());
            weights.invalidate();
            lastSubmitted = -1;
          }
        }
      } catch (RunFinishedException e) {
        LOG.debug("{}", e.getMessage()); // said below
      } finally {
        settle(inFlight); // before the weights it may be adding to are closed
      }
    }
    if (!toldByPoll && runFinished.get()) {
      // E.g. this process was stopped (SIGSTOP, a paused VM) past the run's end: the coordinator's last word
      // waited in its socket. Without it the worker would retry an exited coordinator for --give-up-after.
      LOG.info("the coordinator said the run finished (on the presence stream); done");
    }
    leave("run finished");
    return new Summary(workerId, trained, late, sent, bytesReceived, lastLoss, rejoins);
  }

  private RoundClient.Joined join() {
    RoundClient.Joined joined = client.join(name, device, Runtime.getRuntime().maxMemory());
    workerKey = joined.workerKey();
    workerId = joined.workerId();
    presence.run(); // the previous membership's stream, if any
    presence = client.presence(workerId, workerKey, () -> runFinished.set(true));
    joinedListener.accept(workerId);
    return joined;
  }

  /** Joins again (with the client's back-off while the coordinator is down); the run must be the same. */
  private void rejoin(RunDescription run, CoordinatorLostException cause) {
    String before = workerId;
    LOG.warn("the coordinator lost worker {} ({}); joining again", before, cause.getMessage());
    RoundClient.Joined again = join();
    if (!run.sameTrainingAs(again.run())) {
      throw new IllegalStateException("after joining again the coordinator runs another run (" + again.run().runId()
          + ", was " + run.runId() + "); this worker stops");
    }
    rejoins++;
    metrics.joined();
    LOG.info("joined again as {} (was {})", workerId, before);
  }

  /**
   * Brings {@code weights} to {@code version}: the round update when they are one version behind
   * (and this worker prefers those), else the weights themselves.
   *
   * @return the seconds it took
   */
  private double bringUpTo(ReplicaWeights weights, long version) {
    if (weights.version() == version) {
      return 0;
    }
    long f0 = System.nanoTime();
    long before = bytesReceived;
    boolean updated = preferRoundUpdates && weights.version() >= 0 && weights.version() == version - 1
        && applyRoundUpdate(weights, client.fetchRoundUpdate(workerId, weights.version()));
    if (!updated) {
      Map<String, WireTensor> fetched = client.fetchWeights(workerId, version);
      bytesReceived += fetched.values().stream().mapToLong(t -> t.data().length).sum();
      weights.load(version, fetched);
    }
    double seconds = (System.nanoTime() - f0) / 1e9;
    metrics.fetched(updated, bytesReceived - before, seconds);
    return seconds;
  }

  /**
   * Adds a fetched round update to {@code weights} on their device; false when the coordinator had
   * none from their version or the result is not the coordinator's bits (the caller then fetches the
   * weights, so workers never drift apart).
   */
  private boolean applyRoundUpdate(ReplicaWeights weights, Optional<RoundClient.Fetched> fetched) {
    if (fetched.isEmpty()) {
      return false;
    }
    RoundClient.Fetched f = fetched.get();
    bytesReceived += f.bytes();
    if (!weights.apply(f.delta())) {
      metrics.updateMismatch();
      LOG.warn("the round update of round {} gave other weights than the coordinator's (checksum {});"
          + " fetching the weights instead", f.delta().round() + 1, Long.toHexString(f.delta().weightsChecksum()));
      return false;
    }
    LOG.debug("applied the round update of round {} ({} bytes)", f.delta().round() + 1, f.bytes());
    return true;
  }

  /** What the background did with the last round's merge: applied or not, the bytes fetched, the apply's seconds. */
  private record Ahead(boolean applied, long bytes, double seconds) {}

  /**
   * Overlap, on the background thread: adds the fetched merge to {@code weights} (its work on the device's
   * side stream, beside the round's training); not applied when none was fetched or it gave other bits than
   * the coordinator's (the round thread then fetches the weights).
   */
  private Ahead applyAhead(ReplicaWeights weights, Optional<RoundClient.Fetched> fetched, ai.djl.Device dev) {
    io.orthoslice.common.kernels.SideStream.adopt(dev);
    long t0 = System.nanoTime();
    long before = bytesReceived; // the round thread leaves it alone until it has joined this
    boolean ok = applyRoundUpdate(weights, fetched);
    return new Ahead(ok, bytesReceived - before, (System.nanoTime() - t0) / 1e9);
  }

  /** Waits for a background apply to end, whatever its outcome (the caller is giving up on its round). */
  private static void settle(CompletableFuture<?> f) {
    if (f != null) {
      try {
        f.join();
      } catch (java.util.concurrent.CompletionException | java.util.concurrent.CancellationException e) {
        LOG.debug("the background apply ended with {}", e.toString());
      }
    }
  }

  /** The background fetch's result, its failure rethrown as the client threw it. */
  private static <T> T join(CompletableFuture<T> f) {
    try {
      return f.join();
    } catch (java.util.concurrent.CompletionException e) {
      if (e.getCause() instanceof RuntimeException re) {
        throw re;
      }
      throw e;
    }
  }

  private void beat() {
    try {
      client.heartbeat(workerId, workerKey);
    } catch (CoordinatorLostException | StaleRoundException | CoordinatorRefusedException e) {
      LOG.debug("heartbeat failed: {}", e.getMessage()); // the round loop's next call acts on it
    }
  }

  /** Tells the coordinator this worker is gone (once; safe from a shutdown hook). */
  public void leave(String reason) {
    String id = workerId;
    if (id != null && left.compareAndSet(false, true)) {
      LOG.info("leaving: {}", reason);
      try {
        client.leave(id, workerKey, reason);
      } catch (CoordinatorLostException | StaleRoundException | CoordinatorRefusedException e) {
        LOG.info("leave: {}", e.getMessage());
      }
    }
  }

  @Override
  public void close() {
    heartbeats.shutdownNow();
    background.shutdownNow();
    presence.run();
    client.close();
  }
}
