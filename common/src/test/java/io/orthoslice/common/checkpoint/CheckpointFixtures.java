package io.orthoslice.common.checkpoint;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.orthoslice.common.model.LlamaConfig;
import io.orthoslice.common.model.ParameterSpec;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/** Small random checkpoints for the tests of this package. */
final class CheckpointFixtures {

  /** The tiny preset with a small vocabulary, so that a checkpoint is about half a megabyte. */
  static final LlamaConfig TINY = LlamaConfig.preset("tiny").withVocabSize(96);

  static final int BOS = 1;
  static final int EOS = 2;

  private CheckpointFixtures() {}

  static Map<String, NDArray> weights(LlamaConfig c, NDManager m, long seed) {
    Random r = new Random(seed);
    Map<String, NDArray> out = new LinkedHashMap<>();
    for (ParameterSpec p : c.parameters()) {
      float[] v = new float[(int) p.numel()];
      for (int i = 0; i < v.length; i++) {
        v[i] = (float) r.nextGaussian() * 0.02f;
      }
      out.put(p.name(), m.create(v, new Shape(p.shape())));
    }
    return out;
  }

  /** AdamW-like state: two moments per parameter and an int64 step counter. */
  static Map<String, NDArray> optimizerState(Map<String, NDArray> weights, NDManager m) {
    Map<String, NDArray> out = new LinkedHashMap<>();
    for (Map.Entry<String, NDArray> e : weights.entrySet()) {
      out.put(e.getKey() + ".exp_avg", e.getValue().mul(0.1f));
      out.put(e.getKey() + ".exp_avg_sq", e.getValue().square());
      out.put(e.getKey() + ".step", m.create(new long[] {7}, new Shape(1)));
    }
    return out;
  }

  static TrainerState state(long step) {
    Map<String, Object> run = new LinkedHashMap<>();
    run.put("lr", 3e-4);
    run.put("steps", 100);
    run.put("method", "galore");
    run.put("betas", List.of(0.9, 0.95));
    return new TrainerState(step, step * 8, step * 8 * 128, 1234L, run, Map.of("loss_scale", List.of(65536.0, 3)));
  }

  static Checkpoint checkpoint(NDManager m, long step) {
    Map<String, NDArray> w = weights(TINY, m, step);
    return new Checkpoint(TINY, w, optimizerState(w, m), state(step), BOS, EOS);
  }
}
