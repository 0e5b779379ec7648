package io.orthoslice.common.checkpoint;

import ai.djl.ndarray.types.Shape;
import io.orthoslice.common.model.LlamaConfig;
import io.orthoslice.common.model.ParameterSpec;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Compares a set of named tensor shapes with the parameters {@link LlamaConfig#parameters()}
 * declares, and says what is wrong in one message, listing the first few problems of each kind.
 */
final class ExpectedParameters {

  private static final int SHOWN = 5;

  private ExpectedParameters() {}

  /**
   * Problems with {@code found} against {@code config}, or null when every parameter is present
   * with its shape. Names the config does not declare are a problem only when {@code allowExtra} is
   * false (old Hugging Face files carry e.g. {@code rotary_emb.inv_freq} buffers we do not need).
   */
  static String problems(LlamaConfig config, Map<String, Shape> found, boolean allowExtra) {
    List<String> missing = new ArrayList<>();
    List<String> misshaped = new ArrayList<>();
    Set<String> expected = new TreeSet<>();
    for (ParameterSpec p : config.parameters()) {
      expected.add(p.name());
      Shape want = new Shape(p.shape());
      Shape got = found.get(p.name());
      if (got == null) {
        missing.add(p.name());
      } else if (!got.equals(want)) {
        misshaped.add(p.name() + " has shape " + got + ", expected " + want);
      }
    }
    List<String> extra = new ArrayList<>();
    if (!allowExtra) {
      for (String n : found.keySet()) {
        if (!expected.contains(n)) {
          extra.add(n);
        }
      }
    }
    List<String> parts = new ArrayList<>();
    if (!missing.isEmpty()) {
      parts.add(missing.size() + " missing: " + firstFew(missing));
    }
    if (!misshaped.isEmpty()) {
      parts.add(misshaped.size() + " with the wrong shape: " + firstFew(misshaped));
    }
    if (!extra.isEmpty()) {
      parts.add(extra.size() + " not in the model: " + firstFew(extra));
    }
    return parts.isEmpty() ? null : String.join("; ", parts);
  }

  static Set<String> names(LlamaConfig config) {
    Set<String> out = new TreeSet<>();
    config.parameters().forEach(p -> out.add(p.name()));
    return out;
  }

  private static String firstFew(List<String> items) {
    String shown = String.join(", ", items.subList(0, Math.min(SHOWN, items.size())));
    return items.size() > SHOWN ? shown + " (and " + (items.size() - SHOWN) + " more)" : shown;
  }
}
