package io.orthoslice.common.data;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A Hugging Face {@code tokenizer.json} loaded locally through DJL's Rust bindings.
 *
 * <p>Documents are encoded without the tokenizer's own special tokens and without truncation:
 * {@link PrepareData} appends EOS itself, and DJL otherwise truncates to 512 tokens by default. The
 * vocabulary size and the special-token ids are read from the JSON, since DJL does not expose them.
 */
public final class HuggingFaceTokenizerFile implements Tokenizer, AutoCloseable {

  /** End-of-document markers in the order we prefer them (Llama/T5, GPT-2, Gemma, Llama 3). */
  static final List<String> EOS_CANDIDATES =
      List.of("</s>", "<|endoftext|>", "<eos>", "<|end_of_text|>");

  static final List<String> BOS_CANDIDATES = List.of("<s>", "<bos>", "<|begin_of_text|>");

  private final HuggingFaceTokenizer tokenizer;
  private final int vocabSize;
  private final int eosId;
  private final int bosId;
  private final String id;

  private HuggingFaceTokenizerFile(
      HuggingFaceTokenizer tokenizer, int vocabSize, int eosId, int bosId, String id) {
    this.tokenizer = tokenizer;
    this.vocabSize = vocabSize;
    this.eosId = eosId;
    this.bosId = bosId;
    this.id = id;
  }

  /** Loads {@code tokenizerJson} (a file); never touches the network. */
  public static HuggingFaceTokenizerFile load(Path tokenizerJson) {
    if (!Files.isRegularFile(tokenizerJson)) {
      throw new IllegalArgumentException("tokenizer file " + tokenizerJson + " does not exist");
    }
    try {
      byte[] bytes = Files.readAllBytes(tokenizerJson);
      JsonNode root = new ObjectMapper().readTree(bytes);
      Map<String, Integer> special = SpecialTokens.read(root);
      int vocab = SpecialTokens.vocabSize(root);
      int eos =
          firstPresent(special, EOS_CANDIDATES)
              .orElseThrow(
                  () ->
                      new IllegalArgumentException(
                          "tokenizer "
                              + tokenizerJson
                              + " has no end-of-text token; expected one of "
                              + EOS_CANDIDATES));
      int bos = firstPresent(special, BOS_CANDIDATES).orElse(eos);
      HuggingFaceTokenizer hf =
          HuggingFaceTokenizer.newInstance(
              tokenizerJson,
              Map.of("addSpecialTokens", "false", "truncation", "false", "padding", "false"));
      return new HuggingFaceTokenizerFile(hf, vocab, eos, bos, "hf-" + sha256Prefix(bytes));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read tokenizer " + tokenizerJson, e);
    }
  }

  private static Optional<Integer> firstPresent(Map<String, Integer> tokens, List<String> names) {
    return names.stream().filter(tokens::containsKey).map(tokens::get).findFirst();
  }

  private static String sha256Prefix(byte[] bytes) {
    try {
      byte[] digest = MessageDigest.getInstance("SHA-256").digest(bytes);
      return HexFormat.of().formatHex(digest).substring(0, 12);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is required by every Java platform", e);
    }
  }

  @Override
  public int vocabSize() {
    return vocabSize;
  }

  @Override
  public int[] encode(String text) {
    long[] ids = tokenizer.encode(text, false, false).getIds();
    int[] out = new int[ids.length];
    for (int i = 0; i < ids.length; i++) {
      out[i] = Math.toIntExact(ids[i]);
    }
    return out;
  }

  @Override
  public String decode(int[] ids) {
    long[] wide = new long[ids.length];
    for (int i = 0; i < ids.length; i++) {
      wide[i] = ids[i];
    }
    return tokenizer.decode(wide, false);
  }

  @Override
  public int eosId() {
    return eosId;
  }

  @Override
  public int bosId() {
    return bosId;
  }

  @Override
  public String id() {
    return id;
  }

  @Override
  public void close() {
    tokenizer.close();
  }

  @Override
  public String toString() {
    return "HuggingFaceTokenizerFile[" + id + ", vocab " + vocabSize + "]";
  }
}
