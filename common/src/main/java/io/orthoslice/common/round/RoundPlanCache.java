package io.orthoslice.common.round;

import io.orthoslice.common.config.RoundMode;

import io.orthoslice.common.model.LlamaConfig;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;

/**
 * The plans of the current draw and of the next one, the next drawn in the background while the
 * current round trains. Drawing a round's orthogonal basis is a QR of d x K r per projected matrix
 * (seconds per round at 60m, every worker and the coordinator alike), and it sat on every round's
 * critical path twice: the coordinator drew it before it could hand out the round, then each
 * worker before it could train. A plan is a pure function of its key, so a prefetched plan is the
 * same bits as one drawn on demand; a prefetch that guessed wrong (the participants changed) is
 * simply not used.
 *
 * <p>Holds at most the plan last asked for and the prefetched ones after it: asking for a plan
 * forgets every other, so a long run keeps two plans, not one per round. Thread-safe.
 */
public final class RoundPlanCache implements AutoCloseable {

  private record Key(RoundMode mode, long runSeed, long draw, int participants, int rank) {}

  /** How a plan is drawn: {@link RoundPlan#of} on the cache's model (a test counts the draws). */
  @FunctionalInterface
  interface Drawer {
    RoundPlan draw(RoundMode mode, long runSeed, long draw, int participants, int rank);
  }

  private final Drawer drawer;
  private final ExecutorService background;
  private final Map<Key, CompletableFuture<RoundPlan>> plans = new ConcurrentHashMap<>();

  public RoundPlanCache(LlamaConfig model) {
    this(model, false);
  }

  /**
   * @param narrowed also make every slot's float32 slices of each plan drawn ({@link RoundPlan#narrowAll}),
   *     in the background for a prefetched plan: what a coordinator's merge reads
   */
  public RoundPlanCache(LlamaConfig model, boolean narrowed) {
    this((mode, runSeed, draw, participants, rank) -> {
      RoundPlan plan = RoundPlan.of(model, mode, runSeed, draw, participants, rank);
      if (narrowed) {
        plan.narrowAll();
      }
      return plan;
    });
  }

  RoundPlanCache(Drawer drawer) {
    this.drawer = drawer;
    this.background = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "round-plan-prefetch");
      t.setDaemon(true);
      return t;
    });
  }

  /**
   * The plan for this key: the prefetched one (waiting for it if it is still being drawn), or one
   * drawn now. Forgets every other plan.
   *
   * @throws IllegalArgumentException as {@link RoundPlan#of} does for slices that cannot exist
   */
  public RoundPlan get(RoundMode mode, long runSeed, long draw, int participants, int rank) {
    Key key = new Key(mode, runSeed, draw, participants, rank);
    CompletableFuture<RoundPlan> plan = plans.get(key);
    RoundPlan result;
    if (plan == null) {
      result = drawer.draw(mode, runSeed, draw, participants, rank);
      plans.put(key, CompletableFuture.completedFuture(result));
    } else {
      result = join(plan);
    }
    for (Iterator<Key> it = plans.keySet().iterator(); it.hasNext(); ) {
      Key k = it.next();
      if (!k.equals(key) && k.draw() <= draw) {
        it.remove();
      }
    }
    return result;
  }

  /**
   * Starts drawing this key's plan in the background unless it is held or being drawn. A no-op for
   * mode FULL, which has no projectors. An infeasible key fails at its {@link #get}, not here.
   */
  public void prefetch(RoundMode mode, long runSeed, long draw, int participants, int rank) {
    prefetch(mode, runSeed, draw, participants, rank, -1);
  }

  /**
   * As {@link #prefetch(RoundMode, long, long, int, int)}, and then, still in the background, {@link
   * RoundPlan#prepare}s {@code slot} (a worker's guess at its next slot: its current one; -1 for none).
   */
  public void prefetch(RoundMode mode, long runSeed, long draw, int participants, int rank, int slot) {
    if (!mode.projected()) {
      return;
    }
    Key key = new Key(mode, runSeed, draw, participants, rank);
    try {
      plans.computeIfAbsent(key, k -> CompletableFuture.supplyAsync(() -> {
        RoundPlan plan = drawer.draw(mode, runSeed, draw, participants, rank);
        if (slot >= 0 && slot < participants) {
          plan.prepare(slot);
        }
        return plan;
      }, background));
    } catch (RejectedExecutionException e) {
      // Closed: a prefetch is only a head start, the plan is drawn on demand if it is ever asked for.
    }
  }

  private static RoundPlan join(CompletableFuture<RoundPlan> plan) {
    try {
      return plan.join();
    } catch (CompletionException e) {
      if (e.getCause() instanceof RuntimeException cause) {
        throw cause;
      }
      throw e;
    }
  }

  /** Stops the background thread; a prefetch still running is abandoned. */
  @Override
  public void close() {
    background.shutdownNow();
    plans.clear();
  }
}
