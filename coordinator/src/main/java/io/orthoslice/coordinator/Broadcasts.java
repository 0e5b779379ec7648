package io.orthoslice.coordinator;

import io.orthoslice.common.model.ParameterSpec;
import io.orthoslice.common.wire.DeltaUpdate;
import io.orthoslice.coordinator.CoordinatorException.Code;
import java.time.Duration;
import java.util.HashMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.Map;

/**
 * What stale workers fetch: the current weights (the full broadcast) and, when the last merge has
 * one, its round update (every parameter's change in the run's wire precision), which a worker
 * holding the previous version adds to its weights. Both are immutable and read without a lock;
 * {@link #publish} replaces them together after a merge.
 */
public final class Broadcasts {

  private final Map<String, long[]> shapes = new HashMap<>();
  private volatile WeightsSnapshot weights;
  private volatile DeltaUpdate lastDelta;
  /** The version a merge in progress will publish (overlap), completed when it does; -1 when none. */
  private long expected = -1;
  private CompletableFuture<Void> merged = CompletableFuture.completedFuture(null);

  Broadcasts(RunSettings settings, WeightsSnapshot start) {
    this.weights = start;
    for (ParameterSpec p : settings.model().parameters()) {
      shapes.put(p.name(), p.shape());
    }
  }

  WeightsSnapshot current() {
    return weights;
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

  /** The round update from {@code fromVersion}; FAILED_PRECONDITION when the last merge has none from it. */
  public DeltaUpdate deltaUpdate(long fromVersion) {
    DeltaUpdate u = lastDelta;
    long held = u == null ? -1 : u.fromVersion();
    if (held < 0 || held != fromVersion) {
      throw new CoordinatorException(Code.FAILED_PRECONDITION, "no round update from version " + fromVersion
          + (held < 0 ? " (none exists yet)" : "; the last one is from version " + held) + "; fetch the weights");
    }
    return u;
  }

  void publish(WeightsSnapshot after, DeltaUpdate delta) {
    CompletableFuture<Void> done;
    synchronized (this) {
      weights = after;
      lastDelta = delta;
      expected = -1;
      done = merged;
    }
    done.complete(null);
  }

  /** Overlap: a merge is about to produce {@code version}; fetches of it wait for {@link #publish}. */
  synchronized void expect(long version) {
    expected = version;
    merged = new CompletableFuture<>();
  }

  /** The version the next round's updates merge into: the one being merged, else the current one. */
  synchronized long latestVersion() {
    return expected >= 0 ? expected : weights.version();
  }

  /**
   * Waits up to {@code timeout} while {@code version} is the one a merge in progress will publish;
   * returns at once otherwise (the caller's lookup then answers).
   */
  public void awaitVersion(long version, Duration timeout) {
    CompletableFuture<Void> f;
    synchronized (this) {
      if (expected < 0 || version != expected) {
        return;
      }
      f = merged;
    }
    try {
      f.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      throw new CoordinatorException(Code.UNAVAILABLE, "version " + version + " is still being merged after "
          + timeout.toSeconds() + " s; ask again");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new CoordinatorException(Code.UNAVAILABLE, "interrupted while version " + version + " merged");
    } catch (java.util.concurrent.ExecutionException e) {
      throw new IllegalStateException(e.getCause());
    }
  }

  /** Shape of a parameter by name. */
  public long[] wireShape(String name) {
    return shapes.get(name);
  }
}
