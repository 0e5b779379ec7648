package io.orthoslice.common.checkpoint;

import ai.djl.ndarray.NDArray;
import io.orthoslice.common.model.LlamaConfig;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A model and, for a training checkpoint, what resuming it needs. The arrays belong to whoever
 * created them (for a loaded checkpoint, the manager passed to {@link CheckpointStore#load}); this
 * record never closes them.
 *
 * @param config the model shape
 * @param weights parameters by Hugging Face name ({@code model.layers.0.self_attn.q_proj.weight})
 * @param optimizerState optimizer and method arrays by any name ("{@code <param>.exp_avg}"); empty
 *     for a plain Hugging Face checkpoint
 * @param trainerState step, data cursor, seed and run configuration; null for a plain Hugging Face
 *     checkpoint
 * @param bosTokenId written to {@code config.json} as {@code bos_token_id}
 * @param eosTokenId written to {@code config.json} as {@code eos_token_id}
 */
public record Checkpoint(
    LlamaConfig config,
    Map<String, NDArray> weights,
    Map<String, NDArray> optimizerState,
    TrainerState trainerState,
    int bosTokenId,
    int eosTokenId) {

  public Checkpoint {
    if (config == null) {
      throw new IllegalArgumentException("config must not be null");
    }
    if (weights == null) {
      throw new IllegalArgumentException("weights must not be null");
    }
    requireTokenId("bosTokenId", bosTokenId, config);
    requireTokenId("eosTokenId", eosTokenId, config);
    weights = copyOf("weights", weights);
    optimizerState = copyOf("optimizerState", optimizerState == null ? Map.of() : optimizerState);
  }

  private static Map<String, NDArray> copyOf(String field, Map<String, NDArray> arrays) {
    Map<String, NDArray> out = new LinkedHashMap<>();
    for (Map.Entry<String, NDArray> e : arrays.entrySet()) {
      if (e.getKey() == null || e.getValue() == null) {
        throw new IllegalArgumentException(field + " must not hold null names or arrays, got one at " + e.getKey());
      }
      out.put(e.getKey(), e.getValue());
    }
    return Collections.unmodifiableMap(out);
  }

  private static void requireTokenId(String field, int id, LlamaConfig config) {
    if (id < 0 || id >= config.vocabSize()) {
      throw new IllegalArgumentException(field + " must be in [0, vocab_size " + config.vocabSize() + "), got " + id);
    }
  }
}
