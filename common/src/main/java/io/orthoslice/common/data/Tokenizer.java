package io.orthoslice.common.data;

/**
 * Text to token ids and back. Implementations are deterministic: the same text always gives the
 * same ids, which is what lets a prepared dataset be cached under {@link #id()}.
 */
public interface Tokenizer {

  /** Number of ids; every id produced by {@link #encode} is in [0, vocabSize). */
  int vocabSize();

  /** Token ids of {@code text}, without any BOS/EOS added. */
  int[] encode(String text);

  /** Text of {@code ids}; special tokens are rendered as their literal text. */
  String decode(int[] ids);

  /** The id appended after every document. */
  int eosId();

  /** The id that starts a document; may equal {@link #eosId()}. */
  int bosId();

  /**
   * Short stable identity, safe in file names ({@code [a-z0-9-]}), used in cache paths and
   * manifests: two tokenizers with the same id encode every text identically.
   */
  String id();
}
