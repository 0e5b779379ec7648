package io.orthoslice.worker;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.orthoslice.common.metrics.ProcessMeters;
import io.orthoslice.common.method.MemoryUse;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A worker's meters. The worker's identity is a common tag of the registry (set by its main);
 * the slot it holds is a gauge's value, since it changes every round.
 */
public final class WorkerMetrics {

  private static final String P = ProcessMeters.PREFIX;

  private final MeterRegistry registry;
  private final Counter tokens;
  private final Timer step;
  private final Timer compute;
  private final Timer waiting;
  private final Timer fetch;
  private final Counter weightsReceived;
  private final Counter updatesReceived;
  private final Counter updatesSent;
  private final Counter roundsLate;
  private final Counter updateMismatches;
  private final AtomicLong round = new AtomicLong();
  private final AtomicLong slot = new AtomicLong(-1);
  private final AtomicLong version = new AtomicLong(-1);
  private volatile double loss = Double.NaN;
  private volatile double tokensPerSecond;
  private volatile MemoryUse memory = MemoryUse.ZERO;
  private volatile Runnable onJoined = () -> {};

  /** Meters nobody scrapes, for tests and embedded use. */
  public static WorkerMetrics unregistered() {
    return new WorkerMetrics(new SimpleMeterRegistry());
  }

  public WorkerMetrics(MeterRegistry registry) {
    this.registry = registry;
    tokens = Counter.builder(P + "tokens").description("Training tokens processed by this worker").register(registry);
    step = timer("step.duration", "Duration of one optimizer step");
    compute = timer("round.compute", "Time spent training a round's local steps");
    waiting = timer("round.wait", "Time spent waiting for the next round's assignment");
    fetch = timer("broadcast.duration", "Time to bring the weights up to the round: the round update applied, or the weights fetched");
    weightsReceived = bytes("network.received", "weights", "Bytes received from the coordinator");
    updatesReceived = bytes("network.received", "updates", "Bytes received from the coordinator");
    updatesSent = bytes("network.sent", "updates", "Bytes sent to the coordinator");
    roundsLate = Counter.builder(P + "rounds.late").description("Rounds whose update arrived after the merge")
        .register(registry);
    updateMismatches = Counter.builder(P + "update.mismatches")
        .description("Round updates whose applied weights differed from the coordinator's (the weights were"
            + " fetched instead)").register(registry);
    Gauge.builder(P + "train.loss", this, m -> m.loss).description("Training loss of the last step")
        .register(registry);
    Gauge.builder(P + "tokens.rate", this, m -> m.tokensPerSecond).baseUnit("tokens_per_second")
        .description("Training tokens per second over the last round").register(registry);
    Gauge.builder(P + "round.current", round, AtomicLong::get).description("Round this worker trains (0-based)")
        .register(registry);
    Gauge.builder(P + "worker.slot", slot, AtomicLong::get).description("Slot this worker holds in the round")
        .register(registry);
    Gauge.builder(P + "weights.version", version, AtomicLong::get).description("Weights version this worker holds")
        .register(registry);
    memoryGauge("weights", MemoryUse::weightBytes);
    memoryGauge("gradients", MemoryUse::gradientBytes);
    memoryGauge("optimizer", MemoryUse::optimizerBytes);
    memoryGauge("projection", MemoryUse::projectionBytes);
  }

  private void memoryGauge(String kind, java.util.function.ToLongFunction<MemoryUse> part) {
    Gauge.builder(P + "train.memory", this, m -> part.applyAsLong(m.memory)).baseUnit("bytes").tag("kind", kind)
        .description("Trainer memory by kind (weights, gradients, optimizer state, projections)").register(registry);
  }

  private Timer timer(String name, String help) {
    return Timer.builder(P + name).description(help).publishPercentileHistogram()
        .minimumExpectedValue(Duration.ofMillis(1)).maximumExpectedValue(Duration.ofHours(1)).register(registry);
  }

  private Counter bytes(String name, String kind, String help) {
    return Counter.builder(P + name).baseUnit("bytes").tag("kind", kind).description(help).register(registry);
  }

  /** Runs {@code action} once the worker has joined (the metrics server turns ready then). */
  public void whenJoined(Runnable action) {
    onJoined = action;
  }

  void joined() {
    onJoined.run();
  }

  /** The run's shape as an info metric (value 1). */
  void runInfo(int rank, String method, String mode) {
    Gauge.builder(P + "run.info", () -> 1).description("The run's settings (value 1)")
        .tag("rank", Integer.toString(rank)).tag("mode", mode).tag("method", method.toLowerCase(Locale.ROOT))
        .register(registry);
  }

  void assigned(long roundNumber, int slotNumber, long weightsVersion) {
    round.set(roundNumber);
    slot.set(slotNumber);
    version.set(weightsVersion);
  }

  void step(double seconds, double stepLoss, long stepTokens) {
    step.record((long) (seconds * 1e9), TimeUnit.NANOSECONDS);
    if (Double.isFinite(stepLoss)) {
      loss = stepLoss;
    }
    tokens.increment(stepTokens);
  }

  void trained(double seconds, long roundTokens, MemoryUse used) {
    compute.record((long) (seconds * 1e9), TimeUnit.NANOSECONDS);
    tokensPerSecond = seconds > 0 ? roundTokens / seconds : 0;
    memory = used;
  }

  void waited(double seconds) {
    waiting.record((long) (seconds * 1e9), TimeUnit.NANOSECONDS);
  }

  void fetched(boolean update, long bytes, double seconds) {
    (update ? updatesReceived : weightsReceived).increment(bytes);
    fetch.record((long) (seconds * 1e9), TimeUnit.NANOSECONDS);
  }

  void sent(long bytes) {
    updatesSent.increment(bytes);
  }

  void updateMismatch() {
    updateMismatches.increment();
  }

  void late() {
    roundsLate.increment();
  }
}
