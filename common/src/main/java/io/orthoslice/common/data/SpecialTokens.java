package io.orthoslice.common.data;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.HashMap;
import java.util.Map;

/** What DJL's tokenizer does not expose, read from the {@code tokenizer.json} tree itself. */
final class SpecialTokens {

  private SpecialTokens() {}

  /** Token text to id for the added tokens and the model vocabulary (added tokens win). */
  static Map<String, Integer> read(JsonNode root) {
    Map<String, Integer> byText = new HashMap<>();
    JsonNode vocab = root.path("model").path("vocab");
    if (vocab.isObject()) {
      for (Map.Entry<String, JsonNode> e : vocab.properties()) {
        byText.put(e.getKey(), e.getValue().asInt());
      }
    } else if (vocab.isArray()) {
      // Unigram models list [piece, score] pairs; the id is the position.
      for (int i = 0; i < vocab.size(); i++) {
        byText.put(vocab.get(i).path(0).asText(), i);
      }
    }
    for (JsonNode added : root.path("added_tokens")) {
      byText.put(added.path("content").asText(), added.path("id").asInt());
    }
    return byText;
  }

  /** One more than the largest id in the vocabulary or the added tokens. */
  static int vocabSize(JsonNode root) {
    JsonNode vocab = root.path("model").path("vocab");
    int max = -1;
    if (vocab.isObject()) {
      for (JsonNode id : vocab) {
        max = Math.max(max, id.asInt());
      }
    } else if (vocab.isArray()) {
      max = vocab.size() - 1;
    }
    for (JsonNode added : root.path("added_tokens")) {
      max = Math.max(max, added.path("id").asInt());
    }
    if (max < 0) {
      throw new IllegalArgumentException(
          "tokenizer.json has an empty model.vocab and no added_tokens; a vocabulary is required");
    }
    return max + 1;
  }
}
