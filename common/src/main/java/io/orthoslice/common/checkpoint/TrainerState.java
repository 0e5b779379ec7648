package io.orthoslice.common.checkpoint;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Everything besides tensors that an exact resume needs: where training stopped and what run it
 * was. Stored as {@code trainer_state.json}.
 *
 * @param step optimizer steps completed
 * @param dataCursor position of the next training example in the data order
 * @param tokensSeen training tokens consumed so far
 * @param seed the run's base seed; every random stream is derived from it and the step
 * @param run the run configuration, as plain JSON values, so a resume can refuse other settings
 * @param extra anything else later code needs (loss scale, round numbers, dataset id), plain JSON
 *     values
 */
public record TrainerState(
    long step, long dataCursor, long tokensSeen, long seed, Map<String, Object> run, Map<String, Object> extra) {

  /** Version of the JSON layout written by {@link #toJson}. */
  static final int FORMAT_VERSION = 1;

  /**
   * Copies {@code run} and {@code extra} into immutable plain-JSON form; integers become Long and
   * floats Double, so a state read back from JSON equals the one written.
   */
  public TrainerState {
    if (step < 0) {
      throw new IllegalArgumentException("step must be >= 0, got " + step);
    }
    if (dataCursor < 0) {
      throw new IllegalArgumentException("dataCursor must be >= 0, got " + dataCursor);
    }
    if (tokensSeen < 0) {
      throw new IllegalArgumentException("tokensSeen must be >= 0, got " + tokensSeen);
    }
    run = plainMap(run == null ? Map.of() : run, "run");
    extra = plainMap(extra == null ? Map.of() : extra, "extra");
  }

  /** The {@code trainer_state.json} document. */
  public Map<String, Object> toJson() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("format_version", FORMAT_VERSION);
    m.put("step", step);
    m.put("data_cursor", dataCursor);
    m.put("tokens_seen", tokensSeen);
    m.put("seed", seed);
    m.put("run", run);
    m.put("extra", extra);
    return m;
  }

  /** Reads a {@link #toJson} document; a missing or mistyped field names itself. */
  @SuppressWarnings("unchecked")
  public static TrainerState fromJson(Map<String, ?> m) {
    Object version = m.get("format_version");
    if (!(version instanceof Number v) || v.intValue() != FORMAT_VERSION) {
      throw new IllegalArgumentException("trainer state format_version must be " + FORMAT_VERSION + ", got " + version);
    }
    return new TrainerState(longField(m, "step"), longField(m, "data_cursor"), longField(m, "tokens_seen"),
        longField(m, "seed"), (Map<String, Object>) mapField(m, "run"), (Map<String, Object>) mapField(m, "extra"));
  }

  private static long longField(Map<String, ?> m, String key) {
    Object v = m.get(key);
    if (!(v instanceof Integer || v instanceof Long)) {
      throw new IllegalArgumentException("trainer state field '" + key + "' must be an integer, got " + v);
    }
    return ((Number) v).longValue();
  }

  private static Map<?, ?> mapField(Map<String, ?> m, String key) {
    Object v = m.get(key);
    if (!(v instanceof Map<?, ?> map)) {
      throw new IllegalArgumentException("trainer state field '" + key + "' must be a JSON object, got " + v);
    }
    return map;
  }

  private static Map<String, Object> plainMap(Map<?, ?> in, String path) {
    Map<String, Object> out = new LinkedHashMap<>();
    for (Map.Entry<?, ?> e : in.entrySet()) {
      if (!(e.getKey() instanceof String k)) {
        throw new IllegalArgumentException(path + " keys must be strings, got " + e.getKey());
      }
      out.put(k, plain(e.getValue(), path + "." + k));
    }
    return Collections.unmodifiableMap(out);
  }

  private static Object plain(Object v, String path) {
    if (v == null || v instanceof String || v instanceof Boolean || v instanceof BigInteger) {
      return v;
    }
    if (v instanceof Integer || v instanceof Long || v instanceof Short || v instanceof Byte) {
      return ((Number) v).longValue();
    }
    if (v instanceof Double || v instanceof Float) {
      double d = ((Number) v).doubleValue();
      if (!Double.isFinite(d)) {
        throw new IllegalArgumentException(path + " must be a finite number (JSON has no " + d + "), got " + d);
      }
      return d;
    }
    if (v instanceof BigDecimal b) {
      return b.doubleValue();
    }
    if (v instanceof Map<?, ?> m) {
      return plainMap(m, path);
    }
    if (v instanceof List<?> l) {
      List<Object> out = new ArrayList<>(l.size());
      for (int i = 0; i < l.size(); i++) {
        out.add(plain(l.get(i), path + "[" + i + "]"));
      }
      return Collections.unmodifiableList(out);
    }
    throw new IllegalArgumentException(path + " must be a plain JSON value (string, number, boolean, null, list,"
        + " map), got " + v.getClass().getSimpleName());
  }
}
