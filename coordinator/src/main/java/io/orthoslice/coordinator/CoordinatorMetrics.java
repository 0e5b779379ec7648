package io.orthoslice.coordinator;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.orthoslice.common.metrics.ProcessMeters;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The coordinator's meters. Labels stay bounded: the byte counters carry a kind (weights,
 * updates), nothing carries a round number (the round is a gauge's value).
 */
public final class CoordinatorMetrics {

  private static final String P = ProcessMeters.PREFIX;

  private final MeterRegistry registry;
  private final Counter joined;
  private final Counter dropped;
  private final Counter left;
  private final AtomicLong active = new AtomicLong();
  private final AtomicLong currentRound = new AtomicLong();
  private final AtomicLong weightsVersion = new AtomicLong();
  private volatile double trainLoss = Double.NaN;
  private volatile double validationLoss = Double.NaN;
  private volatile double tokensPerSecond;
  private volatile double bytesPerToken = Double.NaN;
  private volatile double reductionVsSyncDp = Double.NaN;
  private volatile double roundEfficiency = Double.NaN;
  private final Timer roundDuration;
  private final Timer mergeDuration;
  private final Timer evalDuration;
  private final Counter tokensCounter;
  private final Counter weightsSent;
  private final Counter updatesSent;
  private final Counter updatesReceived;
  private final Map<String, Counter> refused = new LinkedHashMap<>();

  /** Meters nobody scrapes, for tests and embedded use. */
  public static CoordinatorMetrics unregistered() {
    return new CoordinatorMetrics(new SimpleMeterRegistry());
  }

  public CoordinatorMetrics(MeterRegistry registry) {
    this.registry = registry;
    joined = Counter.builder(P + "workers.joined").description("Workers that joined the run").register(registry);
    dropped = Counter.builder(P + "workers.dropped").description("Workers dropped for missed heartbeats")
        .register(registry);
    left = Counter.builder(P + "workers.left").description("Workers that left on their own").register(registry);
    Gauge.builder(P + "workers.active", active, AtomicLong::get).description("Live workers now").register(registry);
    Gauge.builder(P + "round.current", currentRound, AtomicLong::get)
        .description("Rounds merged so far (the next round's number, 0-based)").register(registry);
    Gauge.builder(P + "weights.version", weightsVersion, AtomicLong::get)
        .description("Version of the weights the coordinator holds").register(registry);
    Gauge.builder(P + "train.loss", this, m -> m.trainLoss)
        .description("Mean of the merged workers' local training losses in the last round").register(registry);
    Gauge.builder(P + "validation.loss", this, m -> m.validationLoss)
        .description("Validation loss after the last merge").register(registry);
    Gauge.builder(P + "validation.perplexity", this, m -> Math.exp(m.validationLoss))
        .description("Validation perplexity after the last merge").register(registry);
    Gauge.builder(P + "tokens.rate", this, m -> m.tokensPerSecond).baseUnit("tokens_per_second")
        .description("Tokens per second of the whole run over the last round").register(registry);
    Gauge.builder(P + "network.bytes.per.token", this, m -> m.bytesPerToken).baseUnit("bytes")
        .description("Bytes a worker moved per token it trained in the last round (update plus its fetch)")
        .register(registry);
    Gauge.builder(P + "network.reduction.vs.sync.dp", this, m -> m.reductionVsSyncDp)
        .description("Times fewer bytes per trained token than synchronous data parallel (ring all-reduce every step)")
        .register(registry);
    Gauge.builder(P + "round.efficiency", this, m -> m.roundEfficiency)
        .description("Training seconds over round seconds in the last merged round (1: the round cost nothing"
            + " beside training)").register(registry);
    tokensCounter = Counter.builder(P + "tokens").description("Training tokens processed by merged updates")
        .register(registry);
    roundDuration = timer(P + "round.duration", "Wall time of a round, open to merged");
    mergeDuration = timer(P + "merge.duration", "Time to merge a round's updates");
    evalDuration = timer(P + "eval.duration", "Time to evaluate the merged weights");
    weightsSent = bytes("network.sent", "weights", "Bytes sent to workers");
    updatesSent = bytes("network.sent", "updates", "Bytes sent to workers");
    updatesReceived = bytes("network.received", "updates", "Bytes received from workers");
    for (String reason : List.of("non_finite", "out_of_bound", "not_that_worker", "outlier", "members_full", "late")) {
      refused.put(reason, Counter.builder(P + "requests.refused").tag("reason", reason)
          .description("Requests refused before they touched the run: non-finite or out-of-bound update values,"
              + " another worker's id, an outlier left out of the merge, a Join beyond the admitted members, an"
              + " update whose round had closed (a straggler's under --round-quorum)")
          .register(registry));
    }
  }

  private Timer timer(String name, String help) {
    return Timer.builder(name).description(help).publishPercentileHistogram()
        .minimumExpectedValue(Duration.ofMillis(1)).maximumExpectedValue(Duration.ofHours(1)).register(registry);
  }

  private Counter bytes(String name, String kind, String help) {
    return Counter.builder(P + name).baseUnit("bytes").tag("kind", kind).description(help).register(registry);
  }

  /** The run's shape as an info metric (value 1): rank, method and projection mode. */
  public void runInfo(RunSettings s) {
    Gauge.builder(P + "run.info", () -> 1).description("The run's settings (value 1)")
        .tag("rank", Integer.toString(s.rank())).tag("mode", s.mode().label())
        .tag("method", s.train().method().method().name().toLowerCase(Locale.ROOT))
        .tag("workers", Integer.toString(s.expectedWorkers())).tag("wire", s.rules().wire().label()).register(registry);
  }

  void joined(int live) {
    joined.increment();
    active.set(live);
  }

  void left(int live) {
    left.increment();
    active.set(live);
  }

  void dropped(int n, int live) {
    dropped.increment(n);
    active.set(live);
  }

  void merged(RoundResult r, long tokensMerged, double roundSeconds) {
    currentRound.set(r.round() + 1);
    weightsVersion.set(r.version());
    if (!Double.isNaN(r.meanLoss())) {
      trainLoss = r.meanLoss();
    }
    if (!Double.isNaN(r.validationLoss())) {
      validationLoss = r.validationLoss();
    }
    tokensCounter.increment(tokensMerged);
    if (!r.mergedSlots().isEmpty()) {
      bytesPerToken = r.bytesPerToken();
      reductionVsSyncDp = r.reductionVsSyncDp();
      roundEfficiency = r.roundEfficiency();
    }
    tokensPerSecond = roundSeconds > 0 ? tokensMerged / roundSeconds : 0;
    roundDuration.record((long) (roundSeconds * 1e9), TimeUnit.NANOSECONDS);
    mergeDuration.record((long) (r.mergeSeconds() * 1e9), TimeUnit.NANOSECONDS);
    evalDuration.record((long) (r.evalSeconds() * 1e9), TimeUnit.NANOSECONDS);
  }

  /** Sets the starting point (a resumed run starts at its checkpoint's round and version). */
  void started(long round, long version, double validation) {
    currentRound.set(round);
    weightsVersion.set(version);
    validationLoss = validation;
  }

  public void weightsSent(long bytes) {
    weightsSent.increment(bytes);
  }

  public void updateSent(long bytes) {
    updatesSent.increment(bytes);
  }

  public void updateReceived(long bytes) {
    updatesReceived.increment(bytes);
  }

  /**
   * A refused request that a worker should not have made: an update with a non-finite or
   * out-of-bound value, or a call with another worker's key. The reason is one of a few fixed words.
   */
  void refused(String reason) {
    Counter c = refused.get(reason);
    if (c == null) {
      throw new IllegalArgumentException("unknown refusal reason '" + reason + "'; known: " + refused.keySet());
    }
    c.increment();
  }
}
