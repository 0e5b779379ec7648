package io.orthoslice.coordinator;

import io.orthoslice.common.wire.Assignment;
import io.orthoslice.coordinator.CoordinatorException.Code;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledFuture;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The coordinator's logic without transport: membership and the run's state machine ({@link RunPhase},
 * changed only by {@link Lifecycle#transition}) moved by events: join, leave, submit, a lost worker
 * (heartbeat sweep, broken presence) and a round's deadline. The {@link RoundDriver} does a round's slow
 * work on its thread and reports through the locked transitions below; requests never block.
 *
 * <p>Over 300 lines because it is the run's state machine and every event that moves it (join, leave, submit,
 * refusal, drop, the driver's transitions) under one lock; splitting it would split the lock.
 */
public final class Coordinator implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(Coordinator.class);

  private final RunSettings settings;
  private final CoordinatorMetrics metrics;
  private final Membership members = new Membership();
  private final RoundWaiters waiters = new RoundWaiters();
  private final UpdateValidator validator;
  private final Broadcasts broadcasts;
  private final RoundDriver driver;
  private final RunHistory history;
  private final long firstRound;
  private final Lifecycle life = new Lifecycle(RunPhase.WAITING);

  private OpenRound open; // set in phases TRAINING and MERGING
  private long nextRound;
  private long cursor;

  public Coordinator(RunSettings settings, ResumeState start, ValidationLoss validation,
      Consumer<RoundResult> listener, Checkpointer checkpointer) {
    this(settings, start, validation, listener, checkpointer, CoordinatorMetrics.unregistered());
  }

  public Coordinator(RunSettings settings, ResumeState start, ValidationLoss validation,
      Consumer<RoundResult> listener, Checkpointer checkpointer, CoordinatorMetrics metrics) {
    this(settings, start, validation, listener, checkpointer, metrics, ai.djl.Device.cpu());
  }

  /** @param mergeDevice where the merge computes each parameter's change (the coordinator's --device) */
  public Coordinator(RunSettings settings, ResumeState start, ValidationLoss validation,
      Consumer<RoundResult> listener, Checkpointer checkpointer, CoordinatorMetrics metrics,
      ai.djl.Device mergeDevice) {
    this.settings = settings;
    this.metrics = metrics;
    this.validator = new UpdateValidator(settings, metrics::refused);
    this.broadcasts = new Broadcasts(settings, start.weights());
    this.driver = new RoundDriver(this, settings, new RoundMerger(settings, start.mergerState(), mergeDevice),
        new RoundEvaluation(settings, validation), checkpointer, listener, metrics);
    this.nextRound = start.nextRound();
    this.firstRound = start.nextRound();
    this.cursor = start.dataCursor();
    this.history = new RunHistory(start.validationLoss());
    if (nextRound >= settings.rounds()) {
      finish("the checkpoint is of the last round");
    }
  }

  /** Evaluates the starting weights, then opens rounds as workers arrive; checks heartbeats. */
  public void start() {
    driver.start(nextRound, history, this::expireSilent);
  }

  public RunSettings settings() {
    return settings;
  }

  // ---- events ----
  public synchronized JoinedWorker join(String name) {
    ensureOpenForBusiness();
    int admitted = settings.config().workers() + settings.config().spareWorkers();
    if (members.size() >= admitted) {
      metrics.refused("members_full");
      throw new CoordinatorException(Code.RESOURCE_EXHAUSTED, "the run admits at most " + admitted + " members (--workers "
          + settings.config().workers() + " + --spare-workers " + settings.config().spareWorkers() + "), and "
          + members.size() + " are live; join again when one has left");
    }
    Membership.Member m = members.join(name);
    LOG.info("worker {} joined ({} live)", m.id(), members.size());
    metrics.joined(members.size());
    driver.execute(driver::tryOpen);
    return new JoinedWorker(m.id(), m.key(), broadcasts.current().version());
  }

  /** A worker leaves (an unknown id is a no-op: it left or timed out already; a wrong key is refused). */
  public synchronized void leave(String workerId, String workerKey, String reason) {
    if (members.contains(workerId)) {
      members.check(workerId, workerKey, metrics::refused);
    }
    if (members.leave(workerId)) {
      LOG.info("worker {} left: {}", workerId, reason);
      metrics.left(members.size());
      waiters.finish(workerId);
      closeIfComplete();
    }
  }

  /** Accepts an update (refused whole: mis-shaped INVALID_ARGUMENT, late FAILED_PRECONDITION). */
  public boolean submit(Submission s) {
    validator.check(s);
    synchronized (this) {
      touch(s.workerId(), s.workerKey());
      OpenRound r = requireOpen(s.workerId(), s.round(), s.slot(), s.weightsVersion());
      r.accept(s);
      metrics.updateReceived(s.bytes());
      LOG.info("round {}: update from {} (slot {}, {} bytes, loss {})", r.round + 1, s.workerId(), s.slot(),
          s.bytes(), String.format(Locale.ROOT, "%.4f", s.meanLoss()));
      return closeIfComplete();
    }
  }

  /**
   * An update was refused for what it held (non-finite, out of bound, mis-shaped, too large): one log
   * line, and when it came from the open round's participant for its own slot (its key checked), the
   * round no longer waits for that slot: it closes as soon as the other updates are in.
   */
  public synchronized void refusedUpdate(String workerId, String workerKey, long round, int slot, String why) {
    LOG.warn("round {}: refused the update of {} (slot {}): {}", round + 1, workerId, slot, why);
    OpenRound r = open;
    if (r == null || !r.accepting() || r.round != round || !members.contains(workerId)) {
      return;
    }
    try {
      members.check(workerId, workerKey, reason -> { }); // an impostor's refusal frees no one's slot
    } catch (CoordinatorException e) {
      return;
    }
    Assignment a = r.assignment(workerId);
    if (a != null && a.slot() == slot) {
      r.refuse(slot);
      closeIfComplete();
    }
  }

  /** A worker's presence stream broke (its process died): dropped now, not at the heartbeat time-out. */
  public void presenceLost(String workerId) {
    drop(() -> members.leave(workerId) ? List.of(workerId) : List.of(), "lost its connection");
  }

  /** The heartbeat sweep: silent workers are dropped. */
  private void expireSilent() {
    drop(() -> members.expire(settings.heartbeatTimeout()), "missed its heartbeats");
  }

  /** Drops the workers {@code gone} removes from the membership; that may complete the round or let one open. */
  private void drop(Supplier<List<String>> gone, String why) {
    synchronized (this) {
      for (String id : gone.get()) {
        LOG.warn("worker {} {}; dropped", id, why);
        metrics.dropped(1, members.size());
        waiters.cancel(id);
      }
      closeIfComplete();
    }
    driver.tryOpen();
  }

  /**
   * Under the lock: when every live participant has submitted, the round closes on the driver; with
   * a quorum ({@code --round-quorum}), once that many updates are in it closes after the grace
   * window, whatever has arrived by then (the stragglers' updates are refused as late).
   */
  private boolean closeIfComplete() {
    OpenRound r = open;
    if (r == null || !life.is(RunPhase.TRAINING)) {
      return false;
    }
    if (r.complete(members::contains)) {
      driver.execute(() -> driver.closeRound(r)); // the deadline event runs the same on the driver
      return true;
    }
    int quorum = settings.config().roundQuorum();
    if (quorum > 0 && r.received() >= quorum && r.startGrace()) {
      LOG.info("round {}: {} of {} updates in (the quorum); closing in {} s whatever has arrived", r.round + 1,
          r.received(), r.participants.size(), settings.config().roundGrace());
      driver.closeAfter(r, java.time.Duration.ofMillis(Math.round(settings.config().roundGrace() * 1000)));
    }
    return false;
  }

  // ---- the transitions the driver reports ----
  /** WAITING -> DRAWING when enough workers are live (WAITING -> FINISHED when no round is left). */
  synchronized RoundDriver.Draw beginDraw(RoundPlanner planner) {
    if (!life.is(RunPhase.WAITING)) {
      return null;
    }
    if (nextRound >= settings.rounds()) {
      finish("no round left");
      return null;
    }
    List<String> participants = planner.participants(members.live(), nextRound == firstRound && history.empty());
    if (participants == null) {
      return null;
    }
    life.transition(RunPhase.DRAWING, "round " + (nextRound + 1) + " with " + participants.size() + " workers");
    return new RoundDriver.Draw(nextRound, participants, cursor, broadcasts.latestVersion());
  }

  /** DRAWING -> TRAINING: the round and its assignments become visible. */
  synchronized void publish(OpenRound r, Map<String, Assignment> made, ScheduledFuture<?> deadline) {
    if (!life.is(RunPhase.DRAWING)) {
      deadline.cancel(false); // closed meanwhile
      return;
    }
    r.publish(made, deadline);
    open = r;
    life.transition(RunPhase.TRAINING, "assignments out");
    LOG.info("round {} open: {} participants {}", r.round + 1, r.participants.size(), r.participants);
    waiters.offer(r);
  }

  /** TRAINING -> MERGING: the updates received, in slot order; null when {@code r} is not the open round. */
  synchronized List<Submission> beginMerge(OpenRound r) {
    List<Submission> subs;
    if (open != r || (subs = r.close()) == null) {
      return null;
    }
    life.transition(RunPhase.MERGING, subs.size() + " of " + r.participants.size() + " updates");
    return subs;
  }

  /**
   * Publishes a merge and returns what a checkpoint of this point holds, less the merger's buffers. Synchronous rounds: MERGING ends here (the run moves on to the next round);
   * with overlap ({@code advanced}) {@link #advance} did that before the merge, and the next round may
   * be open already.
   */
  synchronized ResumeState completeMerge(OpenRound r, RoundMerger.Outcome o, long cursorAfter, boolean advanced) {
    broadcasts.publish(o.after(), o.delta());
    if (!advanced) {
      cursor = cursorAfter;
      nextRound = r.round + 1;
      open = null;
    }
    return new ResumeState(r.round + 1, cursorAfter, o.after(), Map.of(), history.validationLoss());
  }

  /**
   * Overlap: MERGING -> WAITING before {@code r} merges, so the next round can open at once; its
   * assignments name the version this merge will publish ({@code merges}: whether it makes one).
   */
  synchronized void advance(OpenRound r, long cursorAfter, boolean merges) {
    cursor = cursorAfter;
    nextRound = r.round + 1;
    open = null;
    if (merges) {
      broadcasts.expect(broadcasts.current().version() + 1);
    }
    if (life.is(RunPhase.MERGING)) {
      life.transition(RunPhase.WAITING, "round " + (r.round + 1) + " in, merging while the next trains");
    }
  }


  /** MERGING -> FINISHED after the last round, else -> WAITING; returns whether the next may open. */
  /** Records a merged round's result, once its validation loss is known. */
  void recordResult(RoundResult result) {
    history.add(result);
  }

  synchronized boolean endRound(OpenRound r, boolean last) {
    if (last) {
      finish("the last round merged");
      return false;
    }
    if (!life.is(RunPhase.MERGING)) {
      return false;
    }
    life.transition(RunPhase.WAITING, "round " + (r.round + 1) + " merged");
    return true;
  }

  /** A failed round or draw ends the run: FINISHED, with the cause kept for {@link #failure}. */
  synchronized void fail(RuntimeException e, String why) {
    history.failed(e);
    finish(why);
  }

  private synchronized void finish(String why) {
    if (life.is(RunPhase.FINISHED) || life.is(RunPhase.CLOSED)) {
      return;
    }
    life.transition(RunPhase.FINISHED, why);
    waiters.finishAll();
    history.ended();
    LOG.info("run {} after {} rounds", history.failure().isEmpty() ? "finished" : "stopped", history.rounds().size());
  }

  // ---- requests that change no phase ----
  public synchronized long heartbeat(String workerId, String workerKey) {
    touch(workerId, workerKey);
    return open == null ? nextRound : open.round;
  }

  /** This worker's assignment in the first open round numbered {@code >= wantedRound}, or FINISHED. */
  public synchronized CompletableFuture<Assignment> awaitRound(String workerId, String workerKey, long wantedRound) {
    touch(workerId, workerKey);
    return waiters.await(workerId, wantedRound, open, life.is(RunPhase.FINISHED));
  }

  /** Refuses an update early, from its header alone (before its tensors are read). */
  public synchronized void checkHeader(String workerId, String workerKey, long round, int slot, long version) {
    touch(workerId, workerKey);
    requireOpen(workerId, round, slot, version);
  }

  /** The open round this update belongs to; a late one (its round closed without it) is logged and counted. */
  private OpenRound requireOpen(String workerId, long round, int slot, long version) {
    try {
      return OpenRound.require(open, workerId, round, slot, version);
    } catch (CoordinatorException e) {
      if (e.code() == Code.FAILED_PRECONDITION) { // a straggler's, or a duplicate
        metrics.refused("late");
        LOG.info("round {}: the update of {} (slot {}) came late and is not merged: {}", round + 1, workerId, slot,
            e.getMessage());
      }
      throw e;
    }
  }

  public WeightsSnapshot currentWeights() {
    return broadcasts.current();
  }

  /** What stale workers fetch (read without the lock). */
  public Broadcasts broadcasts() {
    return broadcasts;
  }

  /** The checks of an update's tensors as they arrive (stateless). */
  public UpdateValidator validator() {
    return validator;
  }

  /** What the run has done: its rounds, how it ended, and a wait for the end (thread-safe). */
  public RunHistory record() {
    return history;
  }

  /** After the run: waits until every worker has left, or the time-out; returns those still there. */
  /**
   * A run resumed from the checkpoint of its last round has nothing left to train: it is FINISHED at
   * once, so every worker that joins learns so at its first poll and leaves.
   */
  synchronized void finishAtStart(String why) {
    finish(why);
  }

  /**
   * Waits until {@code workers} workers have joined and left again (a finished run tells each to leave at
   * its first poll), or the time-out; returns whether they did.
   */
  public boolean awaitWorkersToldToLeave(int workers, Duration timeout) throws InterruptedException {
    return members.awaitJoinedAndLeft(workers, timeout);
  }

  public List<String> drain(Duration timeout) throws InterruptedException {
    return members.awaitEmpty(timeout) ? List.of() : members.live();
  }

  /** Every call of a joined worker is a sign of life, once {@link Membership#check} has found it is that worker. */
  private void touch(String workerId, String workerKey) {
    ensureOpenForBusiness();
    members.check(workerId, workerKey, metrics::refused);
  }

  private void ensureOpenForBusiness() {
    if (life.is(RunPhase.CLOSED)) {
      throw new CoordinatorException(Code.UNAVAILABLE, "coordinator is shutting down");
    }
  }

  @Override
  public void close() {
    synchronized (this) {
      if (!life.is(RunPhase.CLOSED)) {
        life.transition(RunPhase.CLOSED, "shutdown");
      }
      waiters.failAll(new CoordinatorException(Code.UNAVAILABLE, "coordinator is shutting down"));
    }
    driver.shutdown();
  }
}
