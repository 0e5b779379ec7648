package io.orthoslice.worker;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.orthoslice.common.config.DeviceSpec;
import io.orthoslice.common.model.LlamaConfig;
import io.orthoslice.common.model.ParameterSpec;
import io.orthoslice.common.round.HostMerge;
import io.orthoslice.common.round.InnerState;
import io.orthoslice.common.round.MergeRule;
import io.orthoslice.common.round.RoundRules;
import io.orthoslice.common.round.OuterNesterov;
import io.orthoslice.common.round.RoundMerge;
import io.orthoslice.common.round.RoundMode;
import io.orthoslice.common.round.RoundPlan;
import io.orthoslice.common.round.WeightsChecksum;
import io.orthoslice.common.train.TokenWindows;
import io.orthoslice.common.train.TrainConfig;
import io.orthoslice.common.wire.Protocol;
import io.orthoslice.common.wire.WireTensor;
import io.orthoslice.proto.JoinResponse;
import io.orthoslice.proto.RoundAssignment;
import io.orthoslice.proto.RoundUpdateHeader;
import io.orthoslice.proto.RunSpec;
import io.orthoslice.proto.UpdateHeader;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
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
 * verifies its slice, trains its local steps and submits the update, until the run ends.
 */
public final class Worker implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(Worker.class);

  /** What this worker did. */
  public record Summary(String workerId, int roundsTrained, int roundsLate, long bytesSent, long bytesReceived,
      double lastLoss) {}

  private final CoordinatorClient client;
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
  private long bytesReceived;
  private Consumer<String> joinedListener = id -> {};

  /**
   * @param preferFactored fetch the factored round update instead of the weights when one exists
   */
  public Worker(CoordinatorClient client, String name, String device, boolean preferFactored) {
    this(client, name, device, preferFactored, WorkerMetrics.unregistered());
  }

  public Worker(CoordinatorClient client, String name, String device, boolean preferFactored,
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
   * Runs until the coordinator says the run is finished.
   *
   * @param openData opens the training windows for (dataset id, seqLen, seed) of the run
   */
  public Summary run(Function<RunSpec, TokenWindows> openData) throws Exception {
    JoinResponse joined = client.join(name, device, Runtime.getRuntime().maxMemory());
    workerId = joined.getWorkerId();
    joinedListener.accept(workerId);
    RunSpec run = joined.getRun();
    ObjectMapper json = new ObjectMapper();
    @SuppressWarnings("unchecked")
    LlamaConfig model = LlamaConfig.fromHuggingFace(json.readValue(run.getModelConfigJson(), Map.class));
    TrainConfig cfg = json.readValue(run.getTrainConfigJson(), TrainConfig.class);
    RoundMode mode = RoundMode.parse(run.getMode());
    RoundRules rules = rules(run);
    TokenWindows data = openData.apply(run);
    if (!data.datasetId().equals(run.getDatasetId())) {
      throw new IllegalArgumentException("this worker's dataset " + data.datasetId() + " is not the run's "
          + run.getDatasetId() + "; use the same --data / --tokenizer as the coordinator");
    }
    LOG.info("joined as {}: {} mode, rank {}, {} local steps", workerId, mode.label(), run.getRank(),
        run.getLocalSteps());
    metrics.runInfo(run.getRank(), cfg.method().method().name(), mode.label());
    metrics.joined();
    long period = Math.max(50, joined.getHeartbeatIntervalMs());
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
    try (LocalTraining local = new LocalTraining(model, DeviceSpec.parse(device), cfg, rules.innerState())) {
      while (true) {
        long w0 = System.nanoTime();
        RoundAssignment a = client.awaitRound(workerId, nextRound);
        double waitSeconds = (System.nanoTime() - w0) / 1e9;
        metrics.waited(waitSeconds);
        double fetchSeconds = 0;
        if (a.getFinished()) {
          break;
        }
        metrics.assigned(a.getRound(), a.getSlot(), a.getWeightsVersion());
        // Stale weights: the factored update when it applies (one version behind), else the weights.
        if (version != a.getWeightsVersion()) {
          Map<String, float[]> updated = null;
          long f0 = System.nanoTime();
          long before = bytesReceived;
          if (preferFactored && weights != null && mode.projected() && version == a.getWeightsVersion() - 1) {
            updated = applyFactored(model, mode, run, rules.merge(), weights, version, lastPlan);
          }
          boolean factored = updated != null;
          if (updated == null) {
            updated = floats(client.fetchWeights(workerId, a.getWeightsVersion()));
            bytesReceived += bytes(updated);
          }
          fetchSeconds = (System.nanoTime() - f0) / 1e9;
          metrics.fetched(factored, bytesReceived - before, fetchSeconds);
          weights = updated;
          version = a.getWeightsVersion();
        }
        // The slice is rebuilt from the seed; a checksum mismatch means the two sides would train and
        // merge different subspaces, so it stops the worker rather than diverge silently.
        // Slices that live several rounds are drawn once: the plan is a pure function of these three.
        RoundPlan plan = !mode.projected() ? null
            : lastPlan != null && lastPlan.draw() == a.getProjectionDraw() && lastPlan.runSeed() == a.getRoundSeed()
                && lastPlan.participants() == a.getParticipants() ? lastPlan
            : RoundPlan.of(model, mode, a.getRoundSeed(), a.getProjectionDraw(), a.getParticipants(), run.getRank());
        lastPlan = plan;
        int checksum = plan == null ? 0 : plan.checksum(a.getSlot());
        if (checksum != a.getSliceChecksum()) {
          throw new IllegalStateException("slice checksum mismatch in round " + (a.getRound() + 1) + " slot "
              + a.getSlot() + ": coordinator " + Integer.toHexString(a.getSliceChecksum()) + ", worker "
              + Integer.toHexString(checksum));
        }
        long t0 = System.nanoTime();
        LocalTraining.Result r = local.round(weights, plan, a.getSlot(), a.getGlobalStep(), a.getLocalSteps(),
            a.getDataPosition(), data, metrics);
        double trainSeconds = (System.nanoTime() - t0) / 1e9;
        metrics.trained(trainSeconds, r.tokens(), r.memory());
        UpdateHeader h = UpdateHeader.newBuilder().setWorkerId(workerId).setRound(a.getRound()).setSlot(a.getSlot())
            .setMeanLoss(r.meanLoss()).setTokens(r.tokens()).setStepSeconds(r.stepSeconds())
            .setWeightsVersion(a.getWeightsVersion()).setFetchSeconds(fetchSeconds).setWaitSeconds(waitSeconds)
            .setTrainSeconds(trainSeconds).build();
        try {
          long n = client.submit(h, r.tensors());
          sent += n;
          metrics.sent(n);
          trained++;
          lastLoss = r.meanLoss();
          LOG.info("round {} slot {}: mean loss {}, {} s/step, fetch {} s", a.getRound() + 1, a.getSlot(),
              String.format(Locale.ROOT, "%.4f", r.meanLoss()), String.format(Locale.ROOT, "%.3f", r.stepSeconds()),
              String.format(Locale.ROOT, "%.3f", fetchSeconds));
        } catch (StatusRuntimeException e) {
          if (e.getStatus().getCode() != Status.Code.FAILED_PRECONDITION) {
            throw e;
          }
          // Late: the round merged without us. Our slice is lost, nothing else; take the next round.
          late++;
          metrics.late();
          LOG.warn("round {}: update refused ({}); moving on", a.getRound() + 1, e.getStatus().getDescription());
        }
        nextRound = a.getRound() + 1;
      }
    }
    leave("run finished");
    return new Summary(workerId, trained, late, sent, bytesReceived, lastLoss);
  }

  /**
   * Applies the last round's factored update to {@code weights}; null when the coordinator has none
   * or the result is not bit for bit the coordinator's weights (the caller then fetches those).
   * {@code trainedPlan} is the plan of the round this worker last trained on: it holds every slot's
   * projectors, so when the update is of that round nothing needs to be drawn again.
   */
  private Map<String, float[]> applyFactored(LlamaConfig model, RoundMode mode, RunSpec run, MergeRule rule,
      Map<String, float[]> weights, long version, RoundPlan trainedPlan) {
    CoordinatorClient.RoundUpdate u;
    try {
      u = client.fetchRoundUpdate(workerId, version);
    } catch (StatusRuntimeException e) {
      if (e.getStatus().getCode() == Status.Code.FAILED_PRECONDITION) {
        return null;
      }
      throw e;
    }
    RoundUpdateHeader h = u.header();
    bytesReceived += u.tensors().values().stream().mapToLong(t -> t.data().length).sum();
    RoundPlan plan = trainedPlan != null && trainedPlan.draw() == h.getProjectionDraw()
        && trainedPlan.runSeed() == h.getRoundSeed() && trainedPlan.participants() == h.getParticipants()
        ? trainedPlan
        : RoundPlan.of(model, mode, h.getRoundSeed(), h.getProjectionDraw(), h.getParticipants(), run.getRank());
    Map<Integer, Map<String, float[]>> bySlot = new TreeMap<>();
    for (int slot : h.getMergedSlotsList()) {
      Map<String, float[]> t = new HashMap<>();
      for (ParameterSpec p : model.parameters()) {
        String wire = p.role() == ParameterSpec.Role.PROJECTED
            ? Protocol.slotFactorName(RoundMerge.factorName(p.name()), slot) : p.name();
        t.put(p.role() == ParameterSpec.Role.PROJECTED ? RoundMerge.factorName(p.name()) : p.name(),
            u.tensors().get(wire).toFloats());
      }
      bySlot.put(slot, t);
    }
    // The coordinator's own merge code on the same inputs: the projected matrices come out as its do.
    Map<String, float[]> d = HostMerge.deltas(plan, weights, bySlot, scale(run), rule);
    OuterNesterov plain = new OuterNesterov(1.0, 0.0);
    Map<String, float[]> out = new LinkedHashMap<>();
    for (ParameterSpec p : model.parameters()) {
      out.put(p.name(), p.role() == ParameterSpec.Role.PROJECTED
          ? plain.apply(p.name(), weights.get(p.name()), d.get(p.name())) : u.tensors().get(p.name()).toFloats());
    }
    int checksum = WeightsChecksum.of(model, out);
    if (checksum != h.getWeightsChecksum()) {
      // Not the coordinator's bits (another BLAS or device rounds differently): training on them
      // would drift from every other worker, so take the weights themselves.
      metrics.factoredMismatch();
      LOG.warn("the factored update of round {} rebuilt weights with checksum {}, the coordinator's are {};"
          + " fetching the weights instead", h.getRound() + 1, Integer.toHexString(checksum),
          Integer.toHexString(h.getWeightsChecksum()));
      return null;
    }
    LOG.info("applied the factored update of round {} ({} slots)", h.getRound() + 1, h.getMergedSlotsCount());
    return out;
  }

  /** The run's round rules as the coordinator announced them (a version-2 run spec always sets them). */
  static RoundRules rules(RunSpec run) {
    if (run.getMergeRule().isEmpty() || run.getSliceRounds() < 1 || run.getInnerState().isEmpty()) {
      throw new IllegalStateException("the coordinator's run spec lacks merge_rule, slice_rounds or inner_state");
    }
    return new RoundRules(MergeRule.parse(run.getMergeRule()), run.getSliceRounds(),
        InnerState.parse(run.getInnerState()));
  }

  private static double scale(RunSpec run) {
    try {
      return new ObjectMapper().readValue(run.getTrainConfigJson(), TrainConfig.class).method().scale();
    } catch (java.io.IOException e) {
      throw new IllegalStateException(e);
    }
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
      client.heartbeat(workerId);
    } catch (StatusRuntimeException e) {
      LOG.debug("heartbeat failed: {}", e.getStatus());
    }
  }

  /** Tells the coordinator this worker is gone (once; safe from a shutdown hook). */
  public void leave(String reason) {
    String id = workerId;
    if (id != null && left.compareAndSet(false, true)) {
      LOG.info("leaving: {}", reason);
      try {
        client.leave(id, reason);
      } catch (StatusRuntimeException e) {
        LOG.info("leave: {}", e.getStatus());
      }
    }
  }

  @Override
  public void close() {
    heartbeats.shutdownNow();
    client.close();
  }
}
