package io.orthoslice.common.data;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A model directory like a Llama 3 snapshot, built in the test (no download): a byte-level BPE
 * {@code tokenizer.json} with {@code <|begin_of_text|>} and {@code <|end_of_text|>} as added tokens,
 * whose real tokens all sit above 65,535 so that its ids need uint32 shards.
 */
final class LlamaStyleTokenizer {

  /** Filler ids below the byte alphabet, so that every real token's id exceeds uint16. */
  static final int FIRST_BYTE_ID = 65_600;
  static final int TH = FIRST_BYTE_ID + 256;
  static final int THE = TH + 1;
  static final int BEGIN_OF_TEXT = THE + 1;
  static final int END_OF_TEXT = THE + 2;
  static final int VOCAB = END_OF_TEXT + 1;

  private LlamaStyleTokenizer() {}

  /** Writes tokenizer.json and a config.json into {@code dir} and returns it. */
  static Path write(Path dir) throws IOException {
    ObjectMapper json = new ObjectMapper();
    ObjectNode vocab = json.createObjectNode();
    for (int i = 0; i < FIRST_BYTE_ID; i++) {
      vocab.put("<|reserved_" + i + "|>", i);
    }
    List<String> alphabet = byteLevelAlphabet();
    for (int b = 0; b < 256; b++) {
      vocab.put(alphabet.get(b), FIRST_BYTE_ID + b);
    }
    vocab.put("th", TH);
    vocab.put("the", THE);
    ObjectNode model = json.createObjectNode().put("type", "BPE").put("ignore_merges", true);
    model.putNull("dropout");
    model.putNull("unk_token");
    model.put("fuse_unk", false).put("byte_fallback", false);
    model.set("vocab", vocab);
    model.set("merges", json.createArrayNode().add("t h").add("th e"));
    ObjectNode byteLevel =
        json.createObjectNode()
            .put("type", "ByteLevel")
            .put("add_prefix_space", false)
            .put("trim_offsets", true)
            .put("use_regex", true);
    ArrayNode added = json.createArrayNode();
    added.add(special(json, BEGIN_OF_TEXT, "<|begin_of_text|>"));
    added.add(special(json, END_OF_TEXT, "<|end_of_text|>"));
    ObjectNode root = json.createObjectNode().put("version", "1.0");
    root.putNull("truncation");
    root.putNull("padding");
    root.set("added_tokens", added);
    root.putNull("normalizer");
    root.set("pre_tokenizer", byteLevel);
    root.putNull("post_processor");
    root.set("decoder", byteLevel.deepCopy());
    root.set("model", model);
    Files.createDirectories(dir);
    json.writeValue(dir.resolve("tokenizer.json").toFile(), root);
    Files.writeString(
        dir.resolve("config.json"), "{\"model_type\": \"llama\", \"vocab_size\": " + VOCAB + "}");
    return dir;
  }

  private static ObjectNode special(ObjectMapper json, int id, String content) {
    return json.createObjectNode()
        .put("id", id)
        .put("content", content)
        .put("single_word", false)
        .put("lstrip", false)
        .put("rstrip", false)
        .put("normalized", false)
        .put("special", true);
  }

  /** GPT-2's printable stand-in for each byte (its bytes_to_unicode), by byte value. */
  static List<String> byteLevelAlphabet() {
    List<Integer> bytes = new ArrayList<>();
    for (int b = '!'; b <= '~'; b++) {
      bytes.add(b);
    }
    for (int b = 0xA1; b <= 0xAC; b++) {
      bytes.add(b);
    }
    for (int b = 0xAE; b <= 0xFF; b++) {
      bytes.add(b);
    }
    String[] chars = new String[256];
    for (int b : bytes) {
      chars[b] = Character.toString(b);
    }
    int next = 256;
    for (int b = 0; b < 256; b++) {
      if (chars[b] == null) {
        chars[b] = Character.toString(next++);
      }
    }
    return List.of(chars);
  }
}
