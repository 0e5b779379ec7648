package io.orthoslice.common.data;

import com.knuddels.jtokkit.Encodings;
import com.knuddels.jtokkit.api.Encoding;
import com.knuddels.jtokkit.api.EncodingType;
import com.knuddels.jtokkit.api.IntArrayList;
import java.util.Locale;

/**
 * OpenAI's byte-level BPE vocabularies, embedded in JTokkit (no download): {@code gpt2} is GPT-2's
 * r50k_base (50,257 ids), {@code cl100k} is cl100k_base (100,277 ids). A real subword vocabulary makes
 * the embedding and the output head the large tensors they are in practice, which the byte tokenizer
 * (257 ids) hides; documents end with {@code <|endoftext|>}, which also starts them.
 */
public final class TiktokenTokenizer implements Tokenizer {

  /** The names {@link Tokenizers#load} accepts. */
  public enum Vocabulary {
    GPT2(EncodingType.R50K_BASE, 50_257, 50_256),
    CL100K(EncodingType.CL100K_BASE, 100_277, 100_257);

    final EncodingType type;
    final int size;
    final int endOfText;

    Vocabulary(EncodingType type, int size, int endOfText) {
      this.type = type;
      this.size = size;
      this.endOfText = endOfText;
    }

    public String spec() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  private final Vocabulary vocabulary;
  private final Encoding encoding;

  public TiktokenTokenizer(Vocabulary vocabulary) {
    this.vocabulary = vocabulary;
    this.encoding = Encodings.newDefaultEncodingRegistry().getEncoding(vocabulary.type);
  }

  @Override
  public int vocabSize() {
    return vocabulary.size;
  }

  /** Ordinary text: a literal "<|endoftext|>" inside a document is encoded as text, never as the marker. */
  @Override
  public int[] encode(String text) {
    return encoding.encodeOrdinary(text).toArray();
  }

  @Override
  public String decode(int[] ids) {
    StringBuilder out = new StringBuilder();
    IntArrayList run = new IntArrayList(ids.length);
    for (int id : ids) {
      if (id == vocabulary.endOfText) { // JTokkit decodes ranks; the marker is ours to render
        out.append(encoding.decode(run));
        run.clear();
        out.append("<|endoftext|>");
      } else {
        run.add(id);
      }
    }
    return out.append(encoding.decode(run)).toString();
  }

  @Override
  public int eosId() {
    return vocabulary.endOfText;
  }

  @Override
  public int bosId() {
    return vocabulary.endOfText;
  }

  @Override
  public String id() {
    return vocabulary.spec();
  }
}
