package io.orthoslice.coordinator;

import io.orthoslice.common.wire.Assignment;
import io.orthoslice.common.wire.FactoredUpdate;

import io.orthoslice.common.wire.WireTensor;
import io.orthoslice.coordinator.CoordinatorException.Code;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The coordinator's logic, without any transport: membership, the round lifecycle, and the parts it
 * drives — {@link RoundPlanner} (who takes part, assignments), {@link OpenRound} (the round in
 * progress and its deadline), {@link UpdateValidator}, {@link RoundMerger} (merge and outer
 * optimizer), {@link Broadcasts} (full and factored payloads), {@link RoundEvaluation}
 * (validation and checkpoint schedule) and {@link RoundWaiters} (long polls).
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
  private final Consumer<RoundResult> listener;
  private final Checkpointer checkpointer;
  private final CoordinatorMetrics metrics;
  private final ScheduledExecutorService driver;
  private final Membership members = new Membership();
  private final RoundWaiters waiters = new RoundWaiters();
  private final RoundPlanner planner;
  private final UpdateValidator validator;
  private final RoundMerger merger;
  private final Broadcasts broadcasts;
  private final RoundEvaluation evaluation;
  private final List<RoundResult> history = new ArrayList<>();
  private final CountDownLatch done = new CountDownLatch(1);
  private final long firstRound;

  private volatile double validationLoss;
  private volatile double initialValidationLoss = Double.NaN;
  private OpenRound open;
  private long nextRound;
  private long cursor;
  private boolean finished;
  private RuntimeException failure;
  private boolean closed;

  public Coordinator(RunSettings settings, ResumeState start, ValidationLoss validation,
      Consumer<RoundResult> listener, Checkpointer checkpointer) {
    this(settings, start, validation, listener, checkpointer, CoordinatorMetrics.unregistered());
  }

  public Coordinator(RunSettings settings, ResumeState start, ValidationLoss validation,
      Consumer<RoundResult> listener, Checkpointer checkpointer, CoordinatorMetrics metrics) {
    this.metrics = metrics;
    this.settings = settings;
    this.listener = listener;
    this.checkpointer = checkpointer;
    this.planner = new RoundPlanner(settings);
    this.validator = new UpdateValidator(settings);
    this.merger = new RoundMerger(settings, start.outerMomentum());
    this.broadcasts = new Broadcasts(settings, start.weights());
    this.evaluation = new RoundEvaluation(settings, validation);
    this.nextRound = start.nextRound();
    this.firstRound = start.nextRound();
    this.cursor = start.dataCursor();
    this.validationLoss = start.validationLoss();
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
      WeightsSnapshot w = broadcasts.current();
      initialValidationLoss = Double.isNaN(validationLoss) ? evaluation.evaluate(w) : validationLoss;
      validationLoss = initialValidationLoss;
      metrics.started(nextRound, w.version(), initialValidationLoss);
      LOG.info("starting at round {} with weights version {}: validation loss {}", nextRound + 1,
          w.version(), String.format(Locale.ROOT, "%.4f", initialValidationLoss));
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
    return new Joined(id, broadcasts.current().version());
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
      waiters.finish(workerId);
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
    Assignment now = open == null ? null : open.pendingFor(workerId, wantedRound);
    return now != null ? CompletableFuture.completedFuture(now) : waiters.await(workerId, wantedRound);
  }

  /** Refuses an update early, from its header alone (before its tensors are read). */
  public synchronized void checkHeader(String workerId, long round, int slot, long version) {
    requireMember(workerId);
    members.seen(workerId, now());
    OpenRound.require(open, workerId, round, slot, version);
  }

  /** Refuses a mis-shaped tensor of an update as soon as it has arrived (INVALID_ARGUMENT). */
  public void checkTensor(long round, int slot, WireTensor t) {
    validator.checkTensor(round, slot, t);
  }

  /** The most data bytes a well-formed update carries; more is RESOURCE_EXHAUSTED at the transport. */
  public long maxUpdateBytes() {
    return validator.maxBytes();
  }

  /**
   * Accepts a worker's update; returns whether it completed the round (the merge then runs on the
   * driver). Mis-shaped updates are refused whole with INVALID_ARGUMENT, late ones with
   * FAILED_PRECONDITION; a refused update changes nothing.
   */
  public boolean submit(Submission s) {
    validator.check(s);
    synchronized (this) {
      requireMember(s.workerId());
      members.seen(s.workerId(), now());
      OpenRound r = OpenRound.require(open, s.workerId(), s.round(), s.slot(), s.weightsVersion());
      r.accept(s);
      metrics.updateReceived(s.bytes());
      LOG.info("round {}: update from {} (slot {}, {} bytes, loss {})", r.round + 1, s.workerId(), s.slot(),
          s.bytes(), String.format(Locale.ROOT, "%.4f", s.meanLoss()));
      return closeIfComplete();
    }
  }

  /** The weights of {@code version}; ABORTED when that is not the current version. */
  public WeightsSnapshot weights(long version) {
    return broadcasts.weights(version);
  }

  public WeightsSnapshot currentWeights() {
    return broadcasts.current();
  }

  /** The factored update from {@code fromVersion} to the next version, if the last merge has one. */
  public FactoredUpdate roundUpdate(long fromVersion) {
    return broadcasts.roundUpdate(fromVersion);
  }

  /** Shape of a broadcast tensor by wire name (weights, dense parameters, {@code <factor>@<slot>}). */
  long[] wireShape(String name) {
    return broadcasts.wireShape(name);
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

  // ---- the round lifecycle (driver thread) ----

  private void tryOpen() {
    List<String> participants;
    long round;
    long start;
    synchronized (this) {
      if (finished || closed || open != null || nextRound >= settings.rounds()) {
        return;
      }
      participants = planner.participants(members.live(), nextRound == firstRound && history.isEmpty());
      if (participants == null) {
        return;
      }
      round = nextRound;
      start = cursor;
    }
    // Drawing the plan and the slices' checksums is the slow part: outside the lock, so requests
    // are answered meanwhile. Only this (driver) thread opens rounds or changes nextRound and cursor.
    OpenRound r = planner.open(round, participants, start);
    var made = planner.assignments(r, broadcasts.current().version(), now() + settings.roundTimeout().toMillis());
    synchronized (this) {
      if (finished || closed) {
        return;
      }
      open = r;
      r.publish(made, driver.schedule(() -> closeRound(r), settings.roundTimeout().toMillis(), TimeUnit.MILLISECONDS));
      LOG.info("round {} open: {} participants {}", r.round + 1, r.participants.size(), r.participants);
      waiters.offer(r);
    }
  }

  /**
   * Merges and evaluates a round, then checkpoints, and opens the next or finishes. Runs on the
   * driver, whose executor would keep an exception to itself: a failure (a checkpoint that cannot be
   * written, say) ends the run loudly instead, see {@link #failure()}.
   */
  private void closeRound(OpenRound r) {
    try {
      mergeRound(r);
    } catch (RuntimeException e) {
      LOG.error("round {} failed; stopping the run: {}", r.round + 1, e.getMessage(), e);
      synchronized (this) {
        failure = e;
      }
      finish();
    }
  }

  private void mergeRound(OpenRound r) {
    List<Submission> subs;
    synchronized (this) {
      if (open != r || (subs = r.close()) == null) {
        return;
      }
    }
    WeightsSnapshot before = broadcasts.current();
    long t0 = System.nanoTime();
    WeightsSnapshot after = before;
    FactoredUpdate update = null;
    if (!subs.isEmpty()) {
      RoundMerger.Merged m = merger.merge(r.plan, before, subs);
      after = m.after();
      if (settings.mode().projected() && merger.plainMerge()) {
        update = broadcasts.factored(r, m.bySlot(), after, before.version());
      }
    }
    double mergeSeconds = (System.nanoTime() - t0) / 1e9;
    RoundResult result = evaluation.result(r, subs, after, update, validationLoss, mergeSeconds);
    ResumeState state;
    synchronized (this) {
      broadcasts.publish(after, update);
      validationLoss = result.validationLoss();
      history.add(result);
      cursor = planner.cursorAfter(r);
      nextRound = r.round + 1;
      open = null;
      state = new ResumeState(nextRound, cursor, after, merger.outerState(), result.validationLoss());
    }
    LOG.info(result.line(settings.rounds()));
    metrics.merged(result, subs.stream().mapToLong(Submission::tokens).sum(), (System.nanoTime() - r.openedNanos) / 1e9);
    listener.accept(result);
    if (evaluation.checkpointDue(r.round)) {
      checkpointer.save(state, result);
    }
    if (evaluation.lastRound(r.round)) {
      finish();
    } else {
      tryOpen();
    }
  }

  private synchronized void finish() {
    if (finished) {
      return;
    }
    finished = true;
    waiters.finishAll();
    done.countDown();
    LOG.info("run {} after {} rounds", failure == null ? "finished" : "stopped", history.size());
  }

  /** Why the run stopped before its last round, if it did (set before {@link #awaitFinished} returns). */
  public synchronized Optional<RuntimeException> failure() {
    return Optional.ofNullable(failure);
  }

  // ---- membership checks (under the lock) ----

  private boolean closeIfComplete() {
    OpenRound r = open;
    if (r == null || !r.accepting() || !r.complete(members::contains)) {
      return false;
    }
    driver.execute(() -> closeRound(r));
    return true;
  }

  private void expireSilent() {
    synchronized (this) {
      for (String id : members.expire(now() - settings.heartbeatTimeout().toMillis())) {
        LOG.warn("worker {} missed its heartbeats; dropped", id);
        metrics.dropped(1, members.size());
        waiters.cancel(id);
      }
      closeIfComplete();
    }
    tryOpen();
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
      waiters.failAll(new CoordinatorException(Code.UNAVAILABLE, "coordinator is shutting down"));
    }
    driver.shutdownNow();
    try {
      driver.awaitTermination(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
