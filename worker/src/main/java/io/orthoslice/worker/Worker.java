package io.orthoslice.worker;

import io.orthoslice.common.config.DeviceSpec;
import io.orthoslice.common.round.DeltaBroadcast;
import io.orthoslice.common.round.FactoredUpdates;
import io.orthoslice.common.round.RoundPlan;
import io.orthoslice.common.round.RoundPlanCache;
import io.orthoslice.common.data.TokenWindows;
import io.orthoslice.common.wire.Assignment;
import io.orthoslice.common.wire.RunDescription;
import io.orthoslice.common.wire.UpdateReport;
import io.orthoslice.common.wire.WireTensor;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A distributed worker: joins, then round after round fetches the weights when stale, rebuilds and
 * verifies its slice, trains its local steps and submits the update, until the run ends. It heals
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
  private final boolean preferFactored;
  private final WorkerMetrics metrics;
  private final ScheduledExecutorService heartbeats = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "worker-heartbeat");
    t.setDaemon(true);
    return t;
  });
  private final AtomicBoolean left = new AtomicBoolean();
  private volatile String workerId;
  private volatile String workerKey;
  private Runnable presence = () -> {};
  private int rejoins;
  private long bytesReceived;
  private Consumer<String> joinedListener = id -> {};

  /**
   * @param preferFactored fetch the factored round update instead of the weights when one exists
   */
  public Worker(RoundClient client, String name, String device, boolean preferFactored) {
    this(client, name, device, preferFactored, WorkerMetrics.unregistered());
  }

  public Worker(RoundClient client, String name, String device, boolean preferFactored,
      WorkerMetrics metrics) {
    this.metrics = metrics;
    this.client = client;
    this.name = name;
    this.device = device;
    this.preferFactored = preferFactored;
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

    Map<String, float[]> weights = null;
    long version = -1;
    long nextRound = 0;
    int trained = 0;
    int late = 0;
    long sent = 0;
    double lastLoss = Double.NaN;
    RoundPlan lastPlan = null;
    // Training runs on the worker's own device (every --gpus entry of a launch is one), never DJL's default.
    try (LocalTraining local = new LocalTraining(run.model(), DeviceSpec.parse(device), run.config().trainConfig(), run.config().rules());
        RoundPlanCache plans = new RoundPlanCache(run.model())) {
      while (true) {
        long w0 = System.nanoTime();
        try {
          Assignment a = client.awaitRound(workerId, workerKey, nextRound);
          double waitSeconds = (System.nanoTime() - w0) / 1e9;
          metrics.waited(waitSeconds);
          double fetchSeconds = 0;
          if (a.finished()) {
            break;
          }
          metrics.assigned(a.round(), a.slot(), a.weightsVersion());
          // Stale weights: the round update when it applies (one version behind: the factored one in a
          // projected mode on the f32 wire, the delta update on a lossy wire), else the weights.
          if (version != a.weightsVersion()) {
            long f0 = System.nanoTime();
            long before = bytesReceived;
            Optional<Map<String, float[]>> updated = Optional.empty();
            if (preferFactored && weights != null && (run.config().roundMode().projected() || run.config().rules().wire().lossy())
                && version == a.weightsVersion() - 1) {
              updated = factored(run, weights, version, lastPlan);
            }
            boolean factored = updated.isPresent();
            if (!factored) {
              updated = Optional.of(floats(client.fetchWeights(workerId, a.weightsVersion())));
              bytesReceived += bytes(updated.get());
            }
            fetchSeconds = (System.nanoTime() - f0) / 1e9;
            metrics.fetched(factored, bytesReceived - before, fetchSeconds);
            weights = updated.get();
            version = a.weightsVersion();
          }
          // The slice is rebuilt from the seed (once per draw: slices may live several rounds); a
          // checksum mismatch means the two sides would train and merge different subspaces, so it
          // stops the worker rather than diverge silently. The next draw's plan is drawn in the background
          // while this round trains (a no-op in mode full).
          RoundPlan plan = !run.config().roundMode().projected() ? null
              : plans.get(run.config().roundMode(), a.runSeed(), a.projectionDraw(), a.participants(), run.config().rank());
          plans.prefetch(run.config().roundMode(), a.runSeed(), run.config().rules().draw(a.round() + 1), a.participants(), run.config().rank());
          lastPlan = plan;
          int checksum = plan == null ? 0 : plan.checksum(a.slot());
          if (checksum != a.sliceChecksum()) {
            throw new IllegalStateException("slice checksum mismatch in round " + (a.round() + 1) + " slot "
                + a.slot() + ": coordinator " + Integer.toHexString(a.sliceChecksum()) + ", worker "
                + Integer.toHexString(checksum));
          }
          long t0 = System.nanoTime();
          LocalTraining.Result r = local.round(weights, plan, a.slot(), a.globalStep(), a.localSteps(),
              a.dataPosition(), data, metrics);
          double trainSeconds = (System.nanoTime() - t0) / 1e9;
          metrics.trained(trainSeconds, r.tokens(), r.memory());
          UpdateReport report = new UpdateReport(workerId, workerKey, a.round(), a.slot(), a.weightsVersion(),
              r.meanLoss(), r.tokens(), r.stepSeconds(), fetchSeconds, waitSeconds, trainSeconds);
          try {
            long n = client.submit(report, r.tensors());
            sent += n;
            metrics.sent(n);
            trained++;
            lastLoss = r.meanLoss();
            LOG.info("round {} slot {}: mean loss {}, {} s/step, fetch {} s", a.round() + 1, a.slot(),
                String.format(Locale.ROOT, "%.4f", r.meanLoss()), String.format(Locale.ROOT, "%.3f", r.stepSeconds()),
                String.format(Locale.ROOT, "%.3f", fetchSeconds));
          } catch (LateUpdateException e) {
            // Late: the round merged without us. Our slice is lost, nothing else; take the next round.
            late++;
            metrics.late();
            LOG.warn("update refused ({}); moving on", e.getMessage());
          }
          nextRound = a.round() + 1;
        } catch (CoordinatorLostException e) {
          // The coordinator forgot this worker (restarted, or dropped it) or went away mid-call:
          // whatever this round had done is lost with it; join again and take its current round.
          rejoin(run, e);
          version = -1; // a restarted coordinator's versions are its checkpoint's: fetch afresh
          nextRound = 0; // the coordinator's open round, whichever it is
        } catch (StaleRoundException e) {
          // The weights asked for are gone (the round closed meanwhile): ask for the current round.
          LOG.warn("{}; asking for the current round", e.getMessage());
          version = -1;
        }
      }
    }
    leave("run finished");
    return new Summary(workerId, trained, late, sent, bytesReceived, lastLoss, rejoins);
  }

  private RoundClient.Joined join() {
    RoundClient.Joined joined = client.join(name, device, Runtime.getRuntime().maxMemory());
    workerKey = joined.workerKey();
    workerId = joined.workerId();
    presence.run(); // the previous membership's stream, if any
    presence = client.presence(workerId, workerKey);
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
   * The weights after the last round's factored update, or empty when the coordinator has none or
   * the rebuilt weights are not bit for bit the coordinator's (the caller then fetches those).
   */
  private Optional<Map<String, float[]>> factored(RunDescription run, Map<String, float[]> weights, long version,
      RoundPlan trainedPlan) {
    Optional<RoundClient.Fetched> fetched = client.fetchRoundUpdate(workerId, version);
    if (fetched.isEmpty()) {
      return Optional.empty();
    }
    RoundClient.Fetched f = fetched.get();
    bytesReceived += f.bytes();
    Optional<Map<String, float[]>> out = f.delta() != null ? DeltaBroadcast.rebuild(run.model(), weights, f.delta())
        : FactoredUpdates.apply(run, weights, f.factored(), trainedPlan);
    if (out.isEmpty()) {
      // Not the coordinator's bits (another BLAS or device rounds differently): training on them
      // would drift from every other worker, so take the weights themselves.
      metrics.factoredMismatch();
      LOG.warn("the round update of round {} rebuilt other weights than the coordinator's (checksum {});"
          + " fetching the weights instead", f.round() + 1, Integer.toHexString(f.weightsChecksum()));
    } else if (f.factored() != null) {
      LOG.info("applied the factored update of round {} ({} slots)", f.round() + 1, f.factored().mergedSlots().size());
    } else {
      LOG.info("applied the delta update of round {} ({} bytes)", f.round() + 1, f.bytes());
    }
    return out;
  }

  private static Map<String, float[]> floats(Map<String, WireTensor> t) {
    Map<String, float[]> out = new LinkedHashMap<>();
    t.forEach((k, v) -> out.put(k, v.toFloats()));
    return out;
  }

  private static long bytes(Map<String, float[]> m) {
    return m.values().stream().mapToLong(v -> (long) v.length * Float.BYTES).sum();
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
    presence.run();
    client.close();
  }
}
