package io.orthoslice.coordinator;

import io.orthoslice.common.wire.DeltaUpdate;
import io.orthoslice.common.wire.FactoredUpdate;

import io.orthoslice.common.model.ParameterSpec;
import io.orthoslice.common.round.RoundMerge;
import io.orthoslice.common.round.WeightsChecksum;
import io.orthoslice.common.wire.Protocol;
import io.orthoslice.coordinator.CoordinatorException.Code;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What stale workers fetch: the current weights (the full broadcast) and, when the last merge has
 * one, its round update: the factored form on the f32 wire (every merged slot's factor plus the new
 * dense parameters, from which a worker holding the previous version rebuilds the merge), the delta
 * update on a lossy wire. All are immutable and read without a lock; {@link #publish} replaces them
 * together after a merge.
 */
public final class Broadcasts {

  private final RunSettings settings;
  private final Map<String, long[]> shapes = new HashMap<>();
  private volatile WeightsSnapshot weights;
  private volatile FactoredUpdate lastUpdate;
  private volatile DeltaUpdate lastDelta;

  Broadcasts(RunSettings settings, WeightsSnapshot start) {
    this.settings = settings;
    this.weights = start;
    Map<String, long[]> factors = RoundMerge.expectedShapes(settings.model(), settings.mode(), settings.rank());
    for (ParameterSpec p : settings.model().parameters()) {
      shapes.put(p.name(), p.shape());
      if (p.role() == ParameterSpec.Role.PROJECTED && settings.mode().projected()) {
        shapes.put(RoundMerge.factorName(p.name()), factors.get(RoundMerge.factorName(p.name())));
      }
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

  /** The factored update from {@code fromVersion}; FAILED_PRECONDITION when the last merge has none from it. */
  public FactoredUpdate roundUpdate(long fromVersion) {
    FactoredUpdate u = lastUpdate;
    requireFrom(fromVersion, u == null ? -1 : u.fromVersion(), "factored");
    return u;
  }

  /** The delta update from {@code fromVersion} (lossy wire); FAILED_PRECONDITION when there is none from it. */
  public DeltaUpdate deltaUpdate(long fromVersion) {
    DeltaUpdate u = lastDelta;
    requireFrom(fromVersion, u == null ? -1 : u.fromVersion(), "delta");
    return u;
  }

  private static void requireFrom(long wanted, long held, String kind) {
    if (held < 0 || held != wanted) {
      throw new CoordinatorException(Code.FAILED_PRECONDITION, "no " + kind + " update from version " + wanted
          + (held < 0 ? " (none exists in this mode or yet)" : "; the last one is from version " + held)
          + "; fetch the weights");
    }
  }

  void publish(WeightsSnapshot after, FactoredUpdate update, DeltaUpdate delta) {
    weights = after;
    lastUpdate = update;
    lastDelta = delta;
  }

  /** The factored form of a merge of {@code bySlot} that produced {@code after} from {@code fromVersion}. */
  FactoredUpdate factored(OpenRound r, Map<Integer, Map<String, float[]>> bySlot, WeightsSnapshot after,
      long fromVersion) {
    LinkedHashMap<String, float[]> t = new LinkedHashMap<>();
    for (ParameterSpec p : settings.model().parameters()) {
      if (p.role() == ParameterSpec.Role.PROJECTED) {
        String f = RoundMerge.factorName(p.name());
        bySlot.forEach((slot, m) -> t.put(Protocol.slotFactorName(f, slot), m.get(f)));
      } else {
        t.put(p.name(), after.values().get(p.name()));
      }
    }
    return new FactoredUpdate(r.round, fromVersion, after.version(), r.participants.size(), settings.train().seed(),
        r.plan.draw(), new ArrayList<>(bySlot.keySet()), t, WeightsChecksum.of(settings.model(), after.values()));
  }

  /** Shape of a tensor's wire name; a slot's factor {@code <param>#B@k} has its factor's shape. */
  public long[] wireShape(String name) {
    int at = name.lastIndexOf('@');
    return shapes.get(at < 0 ? name : name.substring(0, at));
  }
}
