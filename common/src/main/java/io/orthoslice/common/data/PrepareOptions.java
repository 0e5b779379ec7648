package io.orthoslice.common.data;

/**
 * How {@link PrepareData} splits and shards a corpus.
 *
 * @param valFraction share of documents (by hash of their text) that go to validation, in [0, 1)
 * @param shardTokens most tokens in one shard file
 * @param textField the JSONL field or Parquet column that holds a document
 */
public record PrepareOptions(double valFraction, long shardTokens, String textField) {

  /**
   * 0.5% of Europarl is ~88 documents, ~100k byte tokens: enough for a stable perplexity and small
   * enough to leave training data alone.
   */
  public static final double DEFAULT_VAL_FRACTION = 0.005;

  /** 2^28 tokens: 512 MiB uint16 shards. */
  public static final long DEFAULT_SHARD_TOKENS = 1L << 28;

  /** The column of Hugging Face's text datasets (FineWeb, SlimPajama, C4, the Pile). */
  public static final String DEFAULT_TEXT_FIELD = "text";

  public static final PrepareOptions DEFAULTS =
      new PrepareOptions(DEFAULT_VAL_FRACTION, DEFAULT_SHARD_TOKENS, DEFAULT_TEXT_FIELD);

  public PrepareOptions {
    if (!(valFraction >= 0 && valFraction < 1)) {
      throw new IllegalArgumentException("valFraction must be in [0, 1), got " + valFraction);
    }
    if (shardTokens <= 0) {
      throw new IllegalArgumentException("shardTokens must be positive, got " + shardTokens);
    }
    if (textField == null || textField.isEmpty()) {
      throw new IllegalArgumentException("textField must name a JSONL field or Parquet column");
    }
  }

  public PrepareOptions withValFraction(double value) {
    return new PrepareOptions(value, shardTokens, textField);
  }

  public PrepareOptions withShardTokens(long value) {
    return new PrepareOptions(valFraction, value, textField);
  }

  public PrepareOptions withTextField(String value) {
    return new PrepareOptions(valFraction, shardTokens, value);
  }
}
