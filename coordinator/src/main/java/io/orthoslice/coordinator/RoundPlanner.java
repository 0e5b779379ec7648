package io.orthoslice.coordinator;

import io.orthoslice.common.wire.Assignment;

import io.orthoslice.common.config.RoundMode;
import io.orthoslice.common.round.RoundPlan;
import io.orthoslice.common.round.RoundPlanCache;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Decides when a round can open and with whom, draws its projection plan and makes each
 * participant's assignment (slot, seed, learning-rate window, data position, slice checksum).
 * Stateless apart from the run's settings and its plans: the next round's plan is drawn in the
 * background while the current round trains, so the merge is followed by the next assignments at
 * once (a 60m model's orthogonal bases took seconds per round on the critical path).
 */
final class RoundPlanner implements AutoCloseable {

  private final RunSettings settings;
  private final RoundPlanCache plans;

  RoundPlanner(RunSettings settings) {
    this.settings = settings;
    this.plans = new RoundPlanCache(settings.model(), true); // the merge reads every slot's float32 slices
  }

  /**
   * The first live workers, as many as can take part, or null while fewer are live than needed
   * ({@code --workers} for the run's first round, {@code --min-workers} later).
   */
  List<String> participants(List<String> live, boolean firstOfRun) {
    int needed = firstOfRun ? settings.expectedWorkers() : settings.minWorkers();
    if (live.size() < needed) {
      return null;
    }
    // A round has at most --workers slots, taken in join order; spare members wait to replace a lost one.
    int slots = Math.min(settings.expectedWorkers(), maxParticipants());
    return List.copyOf(live.subList(0, Math.min(live.size(), slots)));
  }

  /** Round {@code round} with its projection plan drawn (slow for a large model: not under a lock). */
  OpenRound open(long round, List<String> participants, long cursor) {
    long seed = settings.train().seed();
    RoundPlan plan = plans.get(settings.mode(), seed, settings.rules().draw(round), participants.size(),
        settings.rank());
    // The next round most likely has the same participants; if not, its plan is drawn when it opens.
    plans.prefetch(settings.mode(), seed, settings.rules().draw(round + 1), participants.size(), settings.rank());
    return new OpenRound(round, plan, participants, cursor);
  }

  @Override
  public void close() {
    plans.close();
  }

  /** One assignment per participant, in slot order. */
  Map<String, Assignment> assignments(OpenRound r, long weightsVersion, long deadlineUnixMs) {
    long span = (long) settings.localSteps() * settings.windowsPerStep();
    Map<String, Assignment> made = new LinkedHashMap<>();
    for (int slot = 0; slot < r.participants.size(); slot++) {
      made.put(r.participants.get(slot), new Assignment(false, r.round, r.participants.size(), slot,
          settings.train().seed(), settings.localSteps(), weightsVersion, r.round * settings.localSteps(),
          r.cursorStart + slot * span, r.plan.checksum(slot), deadlineUnixMs, r.plan.draw()));
    }
    return made;
  }

  /** The data cursor after {@code r}: every participant's windows are spent, merged or not. */
  long cursorAfter(OpenRound r) {
    return r.cursorStart + (long) settings.localSteps() * settings.windowsPerStep() * r.participants.size();
  }

  /** Orthogonal slices need K r <= d: more live workers than that wait for the next round. */
  private int maxParticipants() {
    if (!settings.mode().sliced()) {
      return Integer.MAX_VALUE;
    }
    int d = RoundPlan.projected(settings.model()).stream().mapToInt(RoundPlan::dimension).min().orElseThrow();
    return d / settings.rank();
  }
}
