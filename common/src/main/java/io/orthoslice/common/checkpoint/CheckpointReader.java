package io.orthoslice.common.checkpoint;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.orthoslice.common.model.LlamaConfig;
import io.orthoslice.common.model.ParameterSpec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads a checkpoint directory: one of ours, or a plain Hugging Face Llama directory
 * ({@code config.json} plus {@code model.safetensors} or a sharded
 * {@code model.safetensors.index.json}), which is the same layout without optimizer and trainer
 * state. Everything is checked before any tensor is loaded, so a wrong directory fails fast.
 */
final class CheckpointReader {

  private static final Logger LOG = LoggerFactory.getLogger(CheckpointReader.class);
  private static final ObjectMapper JSON = new ObjectMapper();

  /** transformers' LlamaConfig defaults, used when config.json leaves the ids out. */
  private static final int HF_DEFAULT_BOS = 1;
  private static final int HF_DEFAULT_EOS = 2;

  private CheckpointReader() {}

  static Checkpoint read(Path dir, NDManager manager, DataType floatType) throws IOException {
    if (!Files.isDirectory(dir)) {
      throw new IOException(dir + " is not a checkpoint directory");
    }
    Checksums.verify(dir);
    Path configFile = dir.resolve(CheckpointStore.CONFIG);
    Map<String, Object> hf = readJson(configFile);
    LlamaConfig config;
    try {
      config = LlamaConfig.fromHuggingFace(hf);
    } catch (IllegalArgumentException | ClassCastException e) {
      throw new IOException(configFile + ": " + e.getMessage(), e);
    }
    int bos = tokenId(hf, "bos_token_id", HF_DEFAULT_BOS, config, configFile);
    int eos = tokenId(hf, "eos_token_id", HF_DEFAULT_EOS, config, configFile);
    Map<Path, List<String>> files = locateWeights(dir, config);
    Path optimizerFile = dir.resolve(CheckpointStore.OPTIMIZER);
    Path stateFile = dir.resolve(CheckpointStore.TRAINER_STATE);
    TrainerState state = null;
    if (Files.exists(stateFile)) {
      try {
        state = TrainerState.fromJson(readJson(stateFile));
      } catch (IllegalArgumentException | ClassCastException e) {
        throw new IOException(stateFile + ": " + e.getMessage(), e);
      }
    }
    try (NDManager scope = manager.newSubManager()) {
      Map<String, NDArray> loaded = new LinkedHashMap<>();
      for (Map.Entry<Path, List<String>> f : files.entrySet()) {
        loaded.putAll(Safetensors.read(f.getKey(), scope, floatType, f.getValue()));
      }
      Map<String, NDArray> weights = new LinkedHashMap<>();
      for (ParameterSpec p : config.parameters()) {
        weights.put(p.name(), loaded.get(p.name()));
      }
      Map<String, NDArray> optimizer =
          Files.exists(optimizerFile) ? Safetensors.read(optimizerFile, scope) : Map.of();
      weights.values().forEach(a -> a.attach(manager));
      optimizer.values().forEach(a -> a.attach(manager));
      return new Checkpoint(config, weights, optimizer, state, bos, eos);
    }
  }

  /** Which file holds each parameter, after checking names, shapes and dtypes against the config. */
  private static Map<Path, List<String>> locateWeights(Path dir, LlamaConfig config) throws IOException {
    Path single = dir.resolve(CheckpointStore.MODEL);
    Path index = dir.resolve(CheckpointStore.MODEL_INDEX);
    Map<String, Path> fileOf = new LinkedHashMap<>();
    if (Files.exists(single)) {
      Safetensors.readHeader(single).tensors().keySet().forEach(n -> fileOf.put(n, single));
    } else if (Files.exists(index)) {
      Object map = readJson(index).get("weight_map");
      if (!(map instanceof Map<?, ?> weightMap)) {
        throw new IOException(index + ": expected a 'weight_map' object of tensor name -> shard file");
      }
      for (Map.Entry<?, ?> e : weightMap.entrySet()) {
        String shard = String.valueOf(e.getValue());
        if (!(e.getValue() instanceof String) || shard.contains("/") || shard.contains("\\") || shard.startsWith(".")) {
          throw new IOException(index + ": tensor '" + e.getKey() + "' names shard " + e.getValue()
              + "; expected a file name in the same directory");
        }
        fileOf.put(String.valueOf(e.getKey()), dir.resolve(shard));
      }
    } else {
      throw new IOException(dir + " has neither " + CheckpointStore.MODEL + " nor " + CheckpointStore.MODEL_INDEX);
    }
    Set<String> wanted = ExpectedParameters.names(config);
    Map<Path, SafetensorsHeader> headers = new LinkedHashMap<>();
    Map<String, Shape> found = new LinkedHashMap<>();
    Map<Path, List<String>> byFile = new LinkedHashMap<>();
    List<String> ignored = new ArrayList<>();
    for (Map.Entry<String, Path> e : fileOf.entrySet()) {
      if (!wanted.contains(e.getKey())) {
        ignored.add(e.getKey());
        continue;
      }
      SafetensorsHeader h = headers.get(e.getValue());
      if (h == null) {
        if (!Files.isRegularFile(e.getValue())) {
          throw new IOException(index + " names shard " + e.getValue().getFileName() + ", which is missing");
        }
        h = Safetensors.readHeader(e.getValue());
        headers.put(e.getValue(), h);
      }
      SafetensorsHeader.Entry t = h.tensors().get(e.getKey());
      if (t == null) {
        throw new IOException(e.getValue() + " lacks tensor '" + e.getKey() + "' that " + index + " places there");
      }
      if (!t.dtype().isFloating()) {
        throw new IOException(e.getValue() + ": weight '" + e.getKey() + "' has dtype " + t.dtype()
            + "; expected F64, F32, F16 or BF16 (quantized checkpoints are not supported)");
      }
      found.put(e.getKey(), t.shape());
      byFile.computeIfAbsent(e.getValue(), k -> new ArrayList<>()).add(e.getKey());
    }
    String problems = ExpectedParameters.problems(config, found, true);
    if (problems != null) {
      throw new IOException(dir + ": the weights do not match config.json: " + problems);
    }
    if (!ignored.isEmpty()) {
      LOG.info("{}: ignoring {} tensors the model does not use, e.g. {}", dir, ignored.size(), ignored.get(0));
    }
    return byFile;
  }

  /** An id, or the first of a list (Llama 3 lists several eos ids; we keep one for generation). */
  private static int tokenId(Map<String, Object> hf, String key, int dflt, LlamaConfig config, Path file)
      throws IOException {
    Object v = hf.get(key);
    if (v instanceof List<?> l && !l.isEmpty()) {
      if (l.size() > 1) {
        LOG.warn("{}: {} lists {} ids; keeping the first, {}", file, key, l.size(), l.get(0));
      }
      v = l.get(0);
    }
    if (v == null) {
      return dflt;
    }
    if (!(v instanceof Integer id) || id < 0 || id >= config.vocabSize()) {
      throw new IOException(file + ": " + key + " must be an integer in [0, vocab_size " + config.vocabSize()
          + "), got " + v);
    }
    return id;
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> readJson(Path file) throws IOException {
    if (!Files.isRegularFile(file)) {
      throw new IOException(file + " is missing");
    }
    try {
      Object doc = JSON.readValue(file.toFile(), Object.class);
      if (!(doc instanceof Map)) {
        throw new IOException(file + ": expected a JSON object");
      }
      return (Map<String, Object>) doc;
    } catch (JsonProcessingException e) {
      throw new IOException(file + " is not valid JSON: " + e.getOriginalMessage(), e);
    }
  }
}
