package io.orthoslice.common.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class LlamaTest {

  private static final LlamaConfig TINY = LlamaConfig.preset("tiny").withVocabSize(50);
  private NDManager manager;

  @BeforeEach
  void open() {
    manager = NDManager.newBaseManager();
  }

  @AfterEach
  void close() {
    manager.close();
  }

  /** Random float64 weights, independent of the production initializer. */
  private Weights randomWeights(LlamaConfig c, long seed) {
    SplittableRandom rng = new SplittableRandom(seed);
    Map<String, NDArray> w = new HashMap<>();
    for (ParameterSpec p : c.parameters()) {
      double[] v = new double[(int) p.numel()];
      for (int i = 0; i < v.length; i++) {
        v[i] = p.role() == ParameterSpec.Role.NORM ? 1 + 0.1 * rng.nextDouble() : 0.1 * (rng.nextDouble() * 2 - 1);
      }
      w.put(p.name(), manager.create(v, new Shape(p.shape())));
    }
    return new Weights() {
      @Override
      public NDArray dense(String name) {
        return w.get(name);
      }

      @Override
      public NDArray linear(String name, NDArray x) {
        return x.matMul(w.get(name).transpose());
      }
    };
  }

  private NDArray tokens(long[] ids, int batch) {
    return manager.create(ids, new Shape(batch, ids.length / batch));
  }

  @Test
  void forwardProducesLogitsForEveryPositionAndVocabularyEntry() {
    NDArray logits = new Llama(TINY).forward(randomWeights(TINY, 1), tokens(new long[] {1, 2, 3, 4, 5, 6, 7, 8}, 2), DataType.FLOAT64);
    assertEquals(new Shape(2, 4, 50), logits.getShape());
  }

  @Test
  void changingTokenTNeverChangesLogitsBeforeT() {
    Llama model = new Llama(TINY);
    Weights w = randomWeights(TINY, 2);
    long[] a = {3, 14, 15, 9, 26, 5, 35, 8};
    long[] b = a.clone();
    b[5] = 42;
    double[] la = model.forward(w, tokens(a, 1), DataType.FLOAT64).toDoubleArray();
    double[] lb = model.forward(w, tokens(b, 1), DataType.FLOAT64).toDoubleArray();
    int v = TINY.vocabSize();
    for (int t = 0; t < a.length; t++) {
      double diff = 0;
      for (int j = 0; j < v; j++) {
        diff = Math.max(diff, Math.abs(la[t * v + j] - lb[t * v + j]));
      }
      if (t < 5) {
        assertEquals(0.0, diff, 0.0, "position " + t + " must not see token 5");
      } else {
        assertNotEquals(0.0, diff, "position " + t + " must see token 5");
      }
    }
  }

  @Test
  void rotaryEmbeddingRotatesEachPairByPositionTimesFrequency() {
    int hd = 4;
    double theta = 10000;
    Llama.RotaryEmbedding rope = new Llama.RotaryEmbedding(hd, theta);
    int seq = 3;
    NDArray[] cs = rope.cosSin(manager, seq, DataType.FLOAT64);
    double[] x = {0.3, -1.2, 0.7, 2.0};
    NDArray xs = manager.create(new double[] {0.3, -1.2, 0.7, 2.0, 0.3, -1.2, 0.7, 2.0, 0.3, -1.2, 0.7, 2.0}, new Shape(seq, hd));
    double[] out = Llama.RotaryEmbedding.apply(xs, cs[0], cs[1]).toDoubleArray();
    for (int t = 0; t < seq; t++) {
      for (int i = 0; i < hd / 2; i++) {
        // HF rotate-half pairs element i with element i + hd/2 and rotates the pair by t * theta^(-2i/hd).
        double angle = t * Math.pow(theta, -2.0 * i / hd);
        double a = x[i];
        double b = x[i + hd / 2];
        assertEquals(a * Math.cos(angle) - b * Math.sin(angle), out[t * hd + i], 1e-12);
        assertEquals(b * Math.cos(angle) + a * Math.sin(angle), out[t * hd + i + hd / 2], 1e-12);
      }
    }
  }

  @Test
  void rmsNormMatchesHandComputedValues() {
    LlamaConfig c = TINY;
    NDArray x = manager.create(new double[] {1, 2, 3, 4}, new Shape(1, 4));
    NDArray g = manager.create(new double[] {1, 0.5, 2, 1});
    double rms = Math.sqrt((1 + 4 + 9 + 16) / 4.0 + c.rmsNormEps());
    double[] expected = {1 / rms, 0.5 * 2 / rms, 2 * 3 / rms, 4 / rms};
    assertArrayEquals(expected, new Llama(c).rmsNorm(x, g).toDoubleArray(), 1e-12);
  }

  @Test
  void swiGluIsSiluOfGateTimesUp() {
    NDArray x = manager.create(new double[] {-2, 0, 1.5});
    double[] s = Llama.silu(x).toDoubleArray();
    assertArrayEquals(new double[] {-2 / (1 + Math.exp(2)), 0, 1.5 / (1 + Math.exp(-1.5))}, s, 1e-12);
    // down(silu(gate x) * up x) with identity-like 1x1 projections: gate=2, up=3, down=0.5
    LlamaConfig one = new LlamaConfig(4, 2, 1, 1, 1, 1, 8, 1e-6, 10000, false, 0.02);
    NDArray h = manager.create(new double[] {0.4, -0.1}, new Shape(1, 2));
    Map<String, NDArray> w = Map.of(
        "mlp.gate_proj.weight", manager.create(new double[] {2, 0}, new Shape(1, 2)),
        "mlp.up_proj.weight", manager.create(new double[] {3, 0}, new Shape(1, 2)),
        "mlp.down_proj.weight", manager.create(new double[] {0.5, 0}, new Shape(2, 1)));
    Weights weights = new Weights() {
      @Override
      public NDArray dense(String name) {
        return w.get(name);
      }

      @Override
      public NDArray linear(String name, NDArray in) {
        return in.matMul(w.get(name).transpose());
      }
    };
    double gate = 0.8;
    double up = 1.2;
    double expected = 0.5 * gate / (1 + Math.exp(-gate)) * up;
    double[] out = new Llama(one).swiGlu(weights, "mlp.", h).toDoubleArray();
    assertArrayEquals(new double[] {expected, 0}, out, 1e-12);
  }

  @Test
  void lossOfUniformLogitsIsLogVocabulary() {
    NDArray logits = manager.zeros(new Shape(2, 3, 50), DataType.FLOAT64);
    NDArray targets = manager.create(new long[] {0, 5, 49, 7, 7, 1}, new Shape(2, 3));
    assertEquals(Math.log(50), Llama.crossEntropy(logits, targets).getDouble(), 1e-12);
  }
}
