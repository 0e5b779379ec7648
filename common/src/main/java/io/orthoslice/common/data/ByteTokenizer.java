package io.orthoslice.common.data;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * UTF-8 bytes as tokens: ids 0..255 are the byte values and 256 is {@code <|endoftext|>}, used as
 * both BOS and EOS. Needs no vocabulary file, so tests and the default corpus work offline.
 */
public final class ByteTokenizer implements Tokenizer {

  public static final int END_OF_TEXT = 256;
  public static final String END_OF_TEXT_LITERAL = "<|endoftext|>";

  @Override
  public int vocabSize() {
    return 257;
  }

  @Override
  public int[] encode(String text) {
    byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
    int[] ids = new int[bytes.length];
    for (int i = 0; i < bytes.length; i++) {
      ids[i] = bytes[i] & 0xFF;
    }
    return ids;
  }

  @Override
  public String decode(int[] ids) {
    StringBuilder text = new StringBuilder(ids.length);
    ByteArrayOutputStream pending = new ByteArrayOutputStream(ids.length);
    for (int id : ids) {
      if (id == END_OF_TEXT) {
        // Decode the bytes before the marker as one run so multi-byte characters stay whole.
        text.append(pending.toString(StandardCharsets.UTF_8)).append(END_OF_TEXT_LITERAL);
        pending.reset();
      } else if (id >= 0 && id < 256) {
        pending.write(id);
      } else {
        throw new IllegalArgumentException("byte token id " + id + " is out of range [0, 256]");
      }
    }
    return text.append(pending.toString(StandardCharsets.UTF_8)).toString();
  }

  @Override
  public int eosId() {
    return END_OF_TEXT;
  }

  @Override
  public int bosId() {
    return END_OF_TEXT;
  }

  @Override
  public String id() {
    return "byte";
  }

  @Override
  public String toString() {
    return "ByteTokenizer";
  }
}
