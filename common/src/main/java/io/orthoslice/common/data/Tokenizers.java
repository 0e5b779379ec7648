package io.orthoslice.common.data;

import java.nio.file.Files;
import java.nio.file.Path;

/** Turns a tokenizer spec from the command line or a config into a {@link Tokenizer}. */
public final class Tokenizers {

  public static final String ALLOWED =
      "'byte', 'gpt2' (GPT-2's BPE), 'cl100k', a path to a tokenizer.json file, or a directory containing"
          + " tokenizer.json";

  private Tokenizers() {}

  /**
   * {@code "byte"} gives a {@link ByteTokenizer}, {@code "gpt2"} and {@code "cl100k"} a {@link
   * TiktokenTokenizer}; a tokenizer.json file or a directory holding one
   * gives a {@link HuggingFaceTokenizerFile}, which the caller must close.
   */
  public static Tokenizer load(String spec) {
    if (spec == null || spec.isBlank()) {
      throw new IllegalArgumentException("tokenizer spec is empty; allowed: " + ALLOWED);
    }
    if (spec.equals("byte")) {
      return new ByteTokenizer();
    }
    for (TiktokenTokenizer.Vocabulary v : TiktokenTokenizer.Vocabulary.values()) {
      if (spec.equals(v.spec())) {
        return new TiktokenTokenizer(v);
      }
    }
    Path path = Path.of(spec);
    if (Files.isDirectory(path)) {
      path = path.resolve("tokenizer.json");
    }
    if (!Files.isRegularFile(path) || !path.getFileName().toString().endsWith(".json")) {
      throw new IllegalArgumentException(
          "tokenizer spec '" + spec + "' is not usable; allowed: " + ALLOWED);
    }
    return HuggingFaceTokenizerFile.load(path);
  }
}
