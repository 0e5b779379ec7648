package io.orthoslice.worker.cli;

import io.orthoslice.common.model.LlamaConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import picocli.CommandLine.Option;

/** Which model shape to train: a preset, or a Hugging Face style config.json. */
final class ModelOptions {

  @Option(names = "--preset", defaultValue = "tiny", paramLabel = "NAME",
      description = "Model preset: tiny, 20m, 60m, 130m, 350m, 1b (GaLore's shapes). Default: ${DEFAULT-VALUE}.")
  String preset;

  @Option(names = "--model-config", paramLabel = "FILE",
      description = "A Hugging Face Llama config.json with a custom shape (overrides --preset).")
  Path modelConfig;

  /** The shape with the tokenizer's vocabulary and room for seqLen positions. */
  LlamaConfig resolve(int vocabSize, int seqLen) {
    LlamaConfig base;
    if (modelConfig != null) {
      base = readHuggingFace(modelConfig);
      if (base.vocabSize() != vocabSize) {
        throw new IllegalArgumentException("model config vocab_size " + base.vocabSize()
            + " does not match the tokenizer's vocabulary " + vocabSize);
      }
    } else {
      base = LlamaConfig.preset(preset).withVocabSize(vocabSize);
    }
    return base.maxPositionEmbeddings() >= seqLen ? base : base.withMaxPositionEmbeddings(seqLen);
  }

  static LlamaConfig readHuggingFace(Path file) {
    try {
      @SuppressWarnings("unchecked")
      Map<String, Object> m = new com.fasterxml.jackson.databind.ObjectMapper().readValue(Files.readString(file), Map.class);
      return LlamaConfig.fromHuggingFace(m);
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot read model config " + file + ": " + e.getMessage());
    }
  }
}
