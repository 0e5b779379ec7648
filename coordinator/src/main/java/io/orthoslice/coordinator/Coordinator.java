package io.orthoslice.coordinator;

import io.orthoslice.common.model.ParameterSpec;
import io.orthoslice.common.round.HostMerge;
import io.orthoslice.common.round.OuterNesterov;
import io.orthoslice.common.round.RoundMerge;
import io.orthoslice.common.round.RoundPlan;
import io.orthoslice.common.wire.WireTensor;
import io.orthoslice.coordinator.CoordinatorException.Code;
import io.orthoslice.proto.DType;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The coordinator's logic, without any transport: membership, rounds, merges, weights versions.
 *
 * <p>Threading: request methods run on the caller's thread under this object's lock and never
 * block; the slow work (opening a round, which draws its projectors; merging; evaluating;
 * checkpointing) runs on one driver thread, so rounds close and open strictly in order. Weights are
 * immutable snapshots, read without the lock.
 */
public final class Coordinator implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(Coordinator.class);

  /** A registered worker and the weights version it should hold. */
  public record Joined(String workerId, long weightsVersion) {}

  /** Persists a {@link ResumeState} after a round; the default does nothing. */
  @FunctionalInterface
  public interface Checkpointer {
    void save(ResumeState state, RoundResult result);
  }

  private final RunSettings settings;
  private final ValidationLoss validation;
  private final Consumer<RoundResult> listener;
  private final Checkpointer checkpointer;
  private final CoordinatorMetrics metrics;
  private final ScheduledExecutorService driver;
  private final Membership members = new Membership();
  private final OuterNesterov outer;
  private final Map<String, Waiter> waiters = new HashMap<>();
  private final List<RoundResult> history = new ArrayList<>();
  private final CountDownLatch done = new CountDownLatch(1);
  private final long firstRound;

  private volatile WeightsSnapshot weights;
  private volatile RoundUpdate lastUpdate;
  private volatile double validationLoss;
  private volatile double initialValidationLoss = Double.NaN;
  private OpenRound open;
  private long nextRound;
  private long cursor;
  private boolean finished;
  private boolean closed;

  private record Waiter(long nextRound, CompletableFuture<Assignment> future) {}

  private static final class OpenRound {
    final long round;
    final RoundPlan plan;
    final List<String> participants;
    final Map<String, Assignment> assignments = new LinkedHashMap<>();
    final Map<Integer, Submission> submissions = new TreeMap<>();
    final long cursorStart;
    final long openedNanos = System.nanoTime();
    ScheduledFuture<?> deadline;
    boolean closing;

    OpenRound(long round, RoundPlan plan, List<String> participants, long cursorStart) {
      this.round = round;
      this.plan = plan;
      this.participants = participants;
      this.cursorStart = cursorStart;
    }
  }

  public Coordinator(RunSettings settings, ResumeState start, ValidationLoss validation,
      Consumer<RoundResult> listener, Checkpointer checkpointer) {
    this(settings, start, validation, listener, checkpointer, CoordinatorMetrics.unregistered());
  }

  public Coordinator(RunSettings settings, ResumeState start, ValidationLoss validation,
      Consumer<RoundResult> listener, Checkpointer checkpointer, CoordinatorMetrics metrics) {
    this.metrics = metrics;
    this.settings = settings;
    this.validation = validation;
    this.listener = listener;
    this.checkpointer = checkpointer;
    this.weights = start.weights();
    this.nextRound = start.nextRound();
    this.firstRound = start.nextRound();
    this.cursor = start.dataCursor();
    this.validationLoss = start.validationLoss();
    this.outer = new OuterNesterov(settings.outerLr(), settings.outerMomentum());
    outer.restore(start.outerMomentum());
    this.driver = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "coordinator-driver");
      t.setDaemon(true);
      return t;
    });
    if (nextRound >= settings.rounds()) {
      finished = true;
      done.countDown();
    }
  }

  /** Evaluates the starting weights, then opens rounds as workers arrive; checks heartbeats. */
  public void start() {
    driver.execute(() -> {
      initialValidationLoss = Double.isNaN(validationLoss) ? validation.of(weights.values()) : validationLoss;
      validationLoss = initialValidationLoss;
      metrics.started(nextRound, weights.version(), initialValidationLoss);
      LOG.info("starting at round {} with weights version {}: validation loss {}", nextRound + 1,
          weights.version(), initialValidationLoss);
      tryOpen();
    });
    long period = Math.max(10, settings.heartbeatTimeout().toMillis() / 4);
    driver.scheduleAtFixedRate(this::expireSilent, period, period, TimeUnit.MILLISECONDS);
  }

  public RunSettings settings() {
    return settings;
  }

  public synchronized Joined join(String name) {
    ensureOpenForBusiness();
    String id = members.join(name, now());
    LOG.info("worker {} joined ({} live)", id, members.size());
    metrics.joined(members.size());
    driver.execute(this::tryOpen);
    return new Joined(id, weights.version());
  }

  public synchronized long heartbeat(String workerId) {
    requireMember(workerId);
    members.seen(workerId, now());
    return open == null ? nextRound : open.round;
  }

  public synchronized void leave(String workerId, String reason) {
    if (members.leave(workerId)) {
      LOG.info("worker {} left: {}", workerId, reason);
      metrics.left(members.size());
      notifyAll();
      Waiter w = waiters.remove(workerId);
      if (w != null) {
        w.future.complete(Assignment.FINISHED);
      }
      closeIfComplete();
    }
  }

  /**
   * Completes with this worker's assignment in the first open round numbered {@code >= nextRound}
   * that it takes part in, or {@link Assignment#FINISHED}. A newer call replaces an older one.
   */
  public synchronized CompletableFuture<Assignment> awaitRound(String workerId, long wantedRound) {
    requireMember(workerId);
    members.seen(workerId, now());
    if (finished) {
      return CompletableFuture.completedFuture(Assignment.FINISHED);
    }
    if (open != null && !open.closing && open.round >= wantedRound && open.assignments.containsKey(workerId)
        && !open.submissions.containsKey(open.assignments.get(workerId).slot())) {
      return CompletableFuture.completedFuture(open.assignments.get(workerId));
    }
    CompletableFuture<Assignment> f = new CompletableFuture<>();
    Waiter old = waiters.put(workerId, new Waiter(wantedRound, f));
    if (old != null) {
      old.future.cancel(false);
    }
    return f;
  }

  /** Refuses an update early, from its header alone (before its tensors are read). */
  public synchronized void checkHeader(String workerId, long round, int slot, long version) {
    requireMember(workerId);
    members.seen(workerId, now());
    requireOpenRound(workerId, round, slot, version);
  }

  /**
   * Accepts a worker's update; returns whether it completed the round (the merge then runs on the
   * driver). Mis-shaped updates are refused whole with INVALID_ARGUMENT, late ones with
   * FAILED_PRECONDITION; a refused update changes nothing.
   */
  public boolean submit(Submission s) {
    validateTensors(s);
    synchronized (this) {
      requireMember(s.workerId());
      members.seen(s.workerId(), now());
      OpenRound r = requireOpenRound(s.workerId(), s.round(), s.slot(), s.weightsVersion());
      r.submissions.put(s.slot(), s);
      metrics.updateReceived(s.bytes());
      LOG.info("round {}: update from {} (slot {}, {} bytes, loss {})", r.round + 1, s.workerId(), s.slot(),
          s.bytes(), s.meanLoss());
      return closeIfComplete();
    }
  }

  /** The weights of {@code version}; ABORTED when that is not the current version. */
  public WeightsSnapshot weights(long version) {
    WeightsSnapshot w = weights;
    if (w.version() != version) {
      throw new CoordinatorException(Code.ABORTED, "weights version " + version + " is not held; the current"
          + " version is " + w.version());
    }
    return w;
  }

  public WeightsSnapshot currentWeights() {
    return weights;
  }

  /** The factored update from {@code fromVersion} to the next version, if the last merge has one. */
  public RoundUpdate roundUpdate(long fromVersion) {
    RoundUpdate u = lastUpdate;
    if (u == null || u.fromVersion() != fromVersion) {
      throw new CoordinatorException(Code.FAILED_PRECONDITION, "no factored update from version " + fromVersion
          + (u == null ? " (none exists in this mode or yet)" : "; the last one is from version " + u.fromVersion())
          + "; fetch the weights");
    }
    return u;
  }

  public synchronized List<RoundResult> history() {
    return List.copyOf(history);
  }

  public double initialValidationLoss() {
    return initialValidationLoss;
  }

  public synchronized boolean finished() {
    return finished;
  }

  /** Waits for the last round to merge; false on time-out. */
  public boolean awaitFinished(Duration timeout) throws InterruptedException {
    return done.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** After the run: waits until every worker has left, or the time-out; returns whether all left. */
  public synchronized boolean awaitDrained(Duration timeout) throws InterruptedException {
    long end = System.nanoTime() + timeout.toNanos();
    while (members.size() > 0) {
      long left = end - System.nanoTime();
      if (left <= 0) {
        return false;
      }
      TimeUnit.NANOSECONDS.timedWait(this, left);
    }
    return true;
  }

  // ---- the round state machine (driver thread) ----

  private void tryOpen() {
    OpenRound r;
    synchronized (this) {
      if (finished || closed || open != null) {
        return;
      }
      List<String> live = members.live();
      int needed = nextRound == firstRound && history.isEmpty() ? settings.expectedWorkers() : settings.minWorkers();
      if (live.size() < needed) {
        return;
      }
      int k = Math.min(live.size(), maxParticipants());
      r = new OpenRound(nextRound, RoundPlan.of(settings.model(), settings.mode(), settings.train().seed(), nextRound,
          k, settings.rank()), List.copyOf(live.subList(0, k)), cursor);
      open = r;
      r.closing = true; // not yet visible to workers: assignments are being made
    }
    long span = (long) settings.localSteps() * settings.windowsPerStep();
    long deadlineMs = now() + settings.roundTimeout().toMillis();
    Map<String, Assignment> made = new LinkedHashMap<>();
    for (int slot = 0; slot < r.participants.size(); slot++) {
      made.put(r.participants.get(slot), new Assignment(false, r.round, r.participants.size(), slot,
          settings.train().seed(), settings.localSteps(), weights.version(), r.round * settings.localSteps(),
          r.cursorStart + slot * span, r.plan.checksum(slot), deadlineMs));
    }
    synchronized (this) {
      r.assignments.putAll(made);
      r.closing = false;
      r.deadline = driver.schedule(() -> closeRound(r), settings.roundTimeout().toMillis(), TimeUnit.MILLISECONDS);
      LOG.info("round {} open: {} participants {}", r.round + 1, r.participants.size(), r.participants);
      waiters.entrySet().removeIf(e -> {
        Assignment a = r.assignments.get(e.getKey());
        if (a != null && r.round >= e.getValue().nextRound) {
          e.getValue().future.complete(a);
          return true;
        }
        return false;
      });
    }
  }

  /** Orthogonal slices need K r <= d: more live workers than that wait for the next round. */
  private int maxParticipants() {
    if (settings.mode() != io.orthoslice.common.round.RoundMode.ORTHOGONAL) {
      return Integer.MAX_VALUE;
    }
    int d = RoundPlan.projected(settings.model()).stream().mapToInt(RoundPlan::dimension).min().orElseThrow();
    return d / settings.rank();
  }

  private void closeRound(OpenRound r) {
    List<Submission> subs;
    synchronized (this) {
      if (r.closing || open != r) {
        return;
      }
      r.closing = true;
      r.deadline.cancel(false);
      subs = new ArrayList<>(r.submissions.values());
    }
    WeightsSnapshot before = weights;
    long t0 = System.nanoTime();
    WeightsSnapshot after = before;
    RoundUpdate update = null;
    if (!subs.isEmpty()) {
      Map<Integer, Map<String, float[]>> bySlot = new TreeMap<>();
      for (Submission s : subs) {
        Map<String, float[]> t = new HashMap<>();
        s.tensors().forEach((name, tensor) -> t.put(name, tensor.toFloats()));
        bySlot.put(s.slot(), t);
      }
      Map<String, float[]> deltas = HostMerge.deltas(r.plan, before.values(), bySlot, settings.alpha());
      LinkedHashMap<String, float[]> next = new LinkedHashMap<>();
      deltas.forEach((name, d) -> next.put(name, outer.apply(name, before.values().get(name), d)));
      after = new WeightsSnapshot(before.version() + 1, next);
      if (settings.mode().projected() && !outer.active()) {
        update = factored(r, bySlot, after, before.version());
      }
    }
    double mergeSeconds = (System.nanoTime() - t0) / 1e9;
    long t1 = System.nanoTime();
    double val = subs.isEmpty() ? validationLoss : validation.of(after.values());
    double evalSeconds = (System.nanoTime() - t1) / 1e9;
    List<Integer> slots = subs.stream().map(Submission::slot).toList();
    RoundResult result = new RoundResult(r.round, r.participants.size(), slots, after.version(),
        subs.stream().mapToDouble(Submission::meanLoss).average().orElse(Double.NaN), val,
        (long) subs.stream().mapToLong(Submission::bytes).average().orElse(0), after.bytes(),
        update == null ? 0 : update.bytes(), mergeSeconds, evalSeconds);
    long span = (long) settings.localSteps() * settings.windowsPerStep() * r.participants.size();
    ResumeState state;
    synchronized (this) {
      weights = after;
      lastUpdate = update;
      validationLoss = val;
      history.add(result);
      cursor = r.cursorStart + span;
      nextRound = r.round + 1;
      open = null;
      state = new ResumeState(nextRound, cursor, after, outer.state(), val);
    }
    LOG.info(result.line(settings.rounds()));
    metrics.merged(result, subs.stream().mapToLong(Submission::tokens).sum(), (System.nanoTime() - r.openedNanos) / 1e9);
    listener.accept(result);
    boolean last = r.round + 1 == settings.rounds();
    if (last || settings.checkpointEvery() > 0 && (r.round + 1) % settings.checkpointEvery() == 0) {
      checkpointer.save(state, result);
    }
    if (last) {
      finish();
    } else {
      tryOpen();
    }
  }

  private RoundUpdate factored(OpenRound r, Map<Integer, Map<String, float[]>> bySlot, WeightsSnapshot after,
      long fromVersion) {
    LinkedHashMap<String, float[]> t = new LinkedHashMap<>();
    for (ParameterSpec p : settings.model().parameters()) {
      if (p.role() == ParameterSpec.Role.PROJECTED) {
        String f = RoundMerge.factorName(p.name());
        bySlot.forEach((slot, m) -> t.put(RoundUpdate.slotFactorName(f, slot), m.get(f)));
      } else {
        t.put(p.name(), after.values().get(p.name()));
      }
    }
    return new RoundUpdate(r.round, fromVersion, after.version(), r.participants.size(), settings.train().seed(),
        new ArrayList<>(bySlot.keySet()), t);
  }

  private synchronized void finish() {
    finished = true;
    waiters.values().forEach(w -> w.future.complete(Assignment.FINISHED));
    waiters.clear();
    done.countDown();
    LOG.info("run finished after {} rounds", history.size());
  }

  // ---- checks (under the lock) ----

  private boolean closeIfComplete() {
    OpenRound r = open;
    if (r == null || r.closing) {
      return false;
    }
    for (Map.Entry<String, Assignment> e : r.assignments.entrySet()) {
      if (!r.submissions.containsKey(e.getValue().slot()) && members.contains(e.getKey())) {
        return false;
      }
    }
    driver.execute(() -> closeRound(r));
    return true;
  }

  private void expireSilent() {
    synchronized (this) {
      for (String id : members.expire(now() - settings.heartbeatTimeout().toMillis())) {
        LOG.warn("worker {} missed its heartbeats; dropped", id);
        metrics.dropped(1, members.size());
        Waiter w = waiters.remove(id);
        if (w != null) {
          w.future.cancel(false);
        }
      }
      closeIfComplete();
    }
    tryOpen();
  }

  private OpenRound requireOpenRound(String workerId, long round, int slot, long version) {
    OpenRound r = open;
    if (r == null || r.closing || r.round != round) {
      throw new CoordinatorException(Code.FAILED_PRECONDITION, "round " + (round + 1) + " is not open (its deadline"
          + " passed or it was merged); " + (r == null || r.closing ? "no round is open" : "the open round is "
          + (r.round + 1)));
    }
    Assignment a = r.assignments.get(workerId);
    if (a == null) {
      throw new CoordinatorException(Code.FAILED_PRECONDITION, "worker " + workerId + " is not a participant of round "
          + (round + 1));
    }
    if (a.slot() != slot) {
      throw new CoordinatorException(Code.INVALID_ARGUMENT, "worker " + workerId + " holds slot " + a.slot()
          + " of round " + (round + 1) + ", not slot " + slot);
    }
    if (a.weightsVersion() != version) {
      throw new CoordinatorException(Code.FAILED_PRECONDITION, "round " + (round + 1) + " starts from weights version "
          + a.weightsVersion() + ", the update was trained from version " + version);
    }
    if (r.submissions.containsKey(slot)) {
      throw new CoordinatorException(Code.FAILED_PRECONDITION, "slot " + slot + " of round " + (round + 1)
          + " was already submitted");
    }
    return r;
  }

  private void validateTensors(Submission s) {
    Map<String, long[]> expected = RoundMerge.expectedShapes(settings.model(), settings.mode(), settings.rank());
    String where = "update for round " + (s.round() + 1) + " slot " + s.slot() + ": ";
    for (Map.Entry<String, WireTensor> e : s.tensors().entrySet()) {
      long[] shape = expected.get(e.getKey());
      WireTensor t = e.getValue();
      if (shape == null) {
        throw new CoordinatorException(Code.INVALID_ARGUMENT, where + "unexpected tensor " + e.getKey());
      }
      if (t.dtype() != DType.DTYPE_F32) {
        throw new CoordinatorException(Code.INVALID_ARGUMENT, where + e.getKey() + " must be DTYPE_F32, got "
            + t.dtype());
      }
      if (!Arrays.equals(shape, t.shape())) {
        throw new CoordinatorException(Code.INVALID_ARGUMENT, where + e.getKey() + " has shape "
            + Arrays.toString(t.shape()) + ", expected " + Arrays.toString(shape) + " (rank " + settings.rank() + ")");
      }
    }
    for (String name : expected.keySet()) {
      if (!s.tensors().containsKey(name)) {
        throw new CoordinatorException(Code.INVALID_ARGUMENT, where + "missing tensor " + name);
      }
    }
    if (!Double.isFinite(s.meanLoss())) {
      throw new CoordinatorException(Code.INVALID_ARGUMENT, where + "mean loss is " + s.meanLoss());
    }
  }

  private void requireMember(String workerId) {
    ensureOpenForBusiness();
    if (!members.contains(workerId)) {
      throw new CoordinatorException(Code.NOT_FOUND, "unknown worker id '" + workerId
          + "' (never joined, left, or timed out); join again");
    }
  }

  private void ensureOpenForBusiness() {
    if (closed) {
      throw new CoordinatorException(Code.UNAVAILABLE, "coordinator is shutting down");
    }
  }

  private static long now() {
    return System.currentTimeMillis();
  }

  @Override
  public void close() {
    synchronized (this) {
      closed = true;
      waiters.values().forEach(w -> w.future.completeExceptionally(
          new CoordinatorException(Code.UNAVAILABLE, "coordinator is shutting down")));
      waiters.clear();
    }
    driver.shutdownNow();
    try {
      driver.awaitTermination(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
