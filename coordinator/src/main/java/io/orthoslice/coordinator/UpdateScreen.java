package io.orthoslice.coordinator;

import io.orthoslice.common.wire.Protocol;
import io.orthoslice.common.wire.TensorEncoding;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The relative bound of {@link UpdateLimits}: before a merge, every tensor's change in every update
 * (a factor's norm; a dense parameter's distance from the current weights, or the norm of the delta
 * it sent on a lossy wire) is compared with the
 * median of that tensor's change over the round's updates, and an update with any change above
 * {@code outlierFactor} x median is left out. Pure; the caller logs and counts what it drops.
 */
final class UpdateScreen {

  /** An update left out, and why (the tensor, its change and the round's median). */
  record Dropped(Submission submission, String why) {}

  /** What the screen let through and what it left out. */
  record Outcome(List<Submission> kept, List<Dropped> dropped) {}

  private UpdateScreen() {}

  /**
   * @param weights the current weights on the host (asked for only when dense tensors are new values)
   * @param deltas whether dense tensors are deltas (a lossy wire), not new values
   */
  static Outcome screen(List<Submission> subs, java.util.function.Supplier<Map<String, float[]>> weights,
      double outlierFactor, boolean deltas, Map<String, long[]> shapes) {
    if (outlierFactor == 0 || subs.size() < UpdateLimits.MIN_FOR_OUTLIERS) {
      return new Outcome(subs, List.of());
    }
    Map<String, float[]> current = deltas ? Map.of() : weights.get(); // the host copy only when it is read
    List<Map<String, Double>> changes = new ArrayList<>();
    for (Submission s : subs) {
      Map<String, Double> c = new HashMap<>();
      TensorEncoding.decode(s.tensors(), shapes::get).forEach((name, v) -> c.put(name, change(name, v,
          deltas ? null : current.get(name))));
      changes.add(c);
    }
    List<Submission> kept = new ArrayList<>();
    List<Dropped> dropped = new ArrayList<>();
    for (int i = 0; i < subs.size(); i++) {
      String why = null;
      for (Map.Entry<String, Double> e : changes.get(i).entrySet()) {
        String name = e.getKey();
        double median = median(changes.stream().mapToDouble(c -> c.getOrDefault(name, 0.0)).toArray());
        if (median > 0 && e.getValue() > outlierFactor * median) {
          why = String.format(java.util.Locale.ROOT, "%s changed by %.4g, over %s x the round's median %.4g",
              name, e.getValue(), trim(outlierFactor), median);
          break;
        }
      }
      if (why == null) {
        kept.add(subs.get(i));
      } else {
        dropped.add(new Dropped(subs.get(i), why));
      }
    }
    return new Outcome(kept, dropped);
  }

  /** L2 norm of a factor or a change, or of a dense parameter's change from {@code before}. */
  static double change(String name, float[] v, float[] before) {
    boolean factor = name.endsWith(Protocol.FACTOR_SUFFIX) || before == null;
    double sum = 0;
    for (int i = 0; i < v.length; i++) {
      double d = factor ? v[i] : (double) v[i] - before[i];
      sum += d * d;
    }
    return Math.sqrt(sum);
  }

  static double median(double[] v) {
    double[] s = v.clone();
    Arrays.sort(s);
    int n = s.length;
    return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
  }

  private static String trim(double v) {
    return v == Math.rint(v) ? Long.toString((long) v) : Double.toString(v);
  }
}
