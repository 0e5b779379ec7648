package io.orthoslice.common.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.orthoslice.common.config.MethodSpec;
import io.orthoslice.common.config.Precision;
import io.orthoslice.common.config.TrainConfig;
import io.orthoslice.common.method.TrainingMethods;
import io.orthoslice.common.model.ChunkedLoss;
import io.orthoslice.common.model.GemmAlignment;
import io.orthoslice.common.model.Llama;
import io.orthoslice.common.model.LlamaConfig;
import io.orthoslice.common.model.ParameterSpec;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The head and loss in chunks of tokens (issue 34) train as the full logits do: the same losses,
 * gradient norms and weights step after step, to float64 rounding, with a ragged last chunk, with the
 * head tied to the embedding, through activation checkpointing, gradient accumulation and an adapter
 * method; in fp16 with the vocabulary padded, to fp16's resolution.
 */
class ChunkedLossTest {

  /** Vocabulary 50, hidden 16; untied and tied. */
  private static final LlamaConfig UNTIED = new LlamaConfig(50, 16, 40, 2, 2, 2, 32, 1e-6, 10000.0, false, 0.02);
  private static final LlamaConfig TIED = new LlamaConfig(50, 16, 40, 2, 2, 2, 32, 1e-6, 10000.0, true, 0.02);
  /** 1 KiB: 5 tokens of 50 fp32 logits a chunk, so 2 x 8 tokens go as 5 + 5 + 5 + 1. */
  private static final ChunkedLoss SMALL = new ChunkedLoss(1024);
  private static final ChunkedLoss NEVER = new ChunkedLoss(0);

  private static long[] tokens(int seed, int windows) {
    long[] t = new long[windows * 9];
    long x = 11 + seed;
    for (int i = 0; i < t.length; i++) {
      x = (x * 2654435761L + 7) % 50;
      t[i] = x;
    }
    return t;
  }

  private static MethodSpec method(String name) {
    return switch (name) {
      case "full" -> MethodSpec.FULL_RANK;
      case "adapter" -> new MethodSpec(MethodSpec.Method.ADAPTER, "orthogonal", 4, 10,
          MethodSpec.StatePolicy.CARRY, MethodSpec.Optimizer.ADAMW, "fp32", 2.0);
      default -> throw new IllegalArgumentException(name);
    };
  }

  /** Each step's loss and gradient norm, then the validation loss; every effective weight into {@code weights}. */
  private static double[] train(LlamaConfig model, String methodName, Precision precision, int accum,
      boolean recompute, ChunkedLoss chunking, Map<String, double[]> weights) {
    TrainConfig cfg = TrainConfig.defaults(3).withBatch(8, 2, accum).withOptim(1e-2, 1e-3, 0.1, 1.0)
        .withPrecision(precision).withMethod(method(methodName));
    NDManager root = NDManager.newBaseManager();
    Map<String, NDArray> w = ModelInit.initialize(model, 5, root, precision.master());
    List<Double> out = new ArrayList<>();
    try (Trainer t = new Trainer(model, cfg, root, TrainingMethods.build(model, cfg, w, root))
        .alignGemms(GemmAlignment.everywhere(64)).chunkLoss(chunking).recomputeActivations(recompute)) {
      for (int s = 0; s < cfg.steps(); s++) {
        Trainer.StepStats st = t.step(tokens(s, 2 * accum));
        out.add(st.loss());
        out.add(st.gradNorm());
      }
      out.add(t.evaluate(List.of(tokens(7, 2), tokens(8, 2)), 2));
      try (NDManager scope = root.newSubManager()) {
        LinkedHashMap<String, NDArray> eff = t.effectiveWeights(scope);
        for (ParameterSpec p : model.parameters()) {
          weights.put(p.name(), eff.get(p.name()).toType(DataType.FLOAT64, false).toDoubleArray());
        }
      }
    }
    return out.stream().mapToDouble(Double::doubleValue).toArray();
  }

  @ParameterizedTest(name = "{0}, tied {1}, accum {2}, recompute {3}")
  @CsvSource({"full, false, 1, false", "full, true, 1, false", "full, true, 2, true", "adapter, false, 2, false",
      "adapter, true, 1, true"})
  void chunkedLossTrainsAsTheFullLogitsDo(String methodName, boolean tied, int accum, boolean recompute) {
    LlamaConfig model = tied ? TIED : UNTIED;
    Map<String, double[]> full = new LinkedHashMap<>();
    Map<String, double[]> chunked = new LinkedHashMap<>();
    double[] a = train(model, methodName, Precision.FP64, accum, recompute, NEVER, full);
    double[] b = train(model, methodName, Precision.FP64, accum, recompute, SMALL, chunked);
    assertArrayEquals(a, b, 1e-12, "losses, gradient norms and the validation loss");
    assertTrue(a[0] > 3, "a real loss (ln 50 = 3.9 at init), got " + a[0]);
    for (String name : full.keySet()) {
      assertArrayEquals(full.get(name), chunked.get(name), 1e-12, name);
    }
  }

  /** fp16 compute, fp32 master: the head padded from 50 to 64 rows; the chunks' logits are cut to 50. */
  @Test
  void chunkedLossInFp16FollowsTheFullLogitsToFp16Resolution() {
    Map<String, double[]> full = new LinkedHashMap<>();
    Map<String, double[]> chunked = new LinkedHashMap<>();
    double[] a = train(UNTIED, "full", Precision.FP16, 1, false, NEVER, full);
    double[] b = train(UNTIED, "full", Precision.FP16, 1, false, SMALL, chunked);
    assertArrayEquals(a, b, 2e-3, "losses, gradient norms and the validation loss");
    double worst = 0;
    for (String name : full.keySet()) {
      for (int i = 0; i < full.get(name).length; i++) {
        worst = Math.max(worst, Math.abs(full.get(name)[i] - chunked.get(name)[i]));
      }
    }
    assertTrue(worst < 1e-3, "largest weight difference after 3 steps " + worst);
  }

  @Test
  void chunksOnlyWhereTheLogitsPassTheBudget() {
    ChunkedLoss policy = ChunkedLoss.defaults();
    assertTrue(policy.chunks(8 * 1024, 50_257), "GPT-2's vocabulary at 8 x 1024 tokens: 1.6 GB of logits");
    assertFalse(policy.chunks(8 * 1024, 257), "the byte vocabulary: 8 MB");
    assertEquals(1335, policy.tokensPerChunk(50_257));
    assertFalse(NEVER.chunks(1L << 20, 1L << 20));
    assertFalse(new Llama(UNTIED, null, GemmAlignment.NONE, SMALL).chunksLoss(5));
    assertTrue(new Llama(UNTIED, null, GemmAlignment.NONE, SMALL).chunksLoss(6));
    assertThrows(IllegalArgumentException.class, () -> new ChunkedLoss(-1));
  }
}
