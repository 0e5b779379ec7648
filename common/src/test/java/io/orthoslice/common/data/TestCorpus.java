package io.orthoslice.common.data;

import com.github.luben.zstd.ZstdOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.IntStream;
import java.util.zip.GZIPOutputStream;

/** Small corpora written in tests, and the token streams PrepareData must produce from them. */
final class TestCorpus {

  private TestCorpus() {}

  /** Writes {@code lines}, gzip- or zstd-compressed when the name ends in .gz or .zst. */
  static Path write(Path file, List<String> lines) throws IOException {
    String name = file.toString();
    try (OutputStream raw = Files.newOutputStream(file);
        OutputStream out =
            name.endsWith(".gz")
                ? new GZIPOutputStream(raw)
                : name.endsWith(".zst") ? new ZstdOutputStream(raw) : raw;
        Writer w = new OutputStreamWriter(out, StandardCharsets.UTF_8)) {
      for (String line : lines) {
        w.write(line);
        w.write('\n');
      }
    }
    return file;
  }

  /** JSONL lines {"text": doc} for plain-ASCII documents without quotes or backslashes. */
  static List<String> jsonl(List<String> docs) {
    return docs.stream().map(d -> "{\"id\": 1, \"text\": \"" + d + "\"}").toList();
  }

  /** encode(doc) followed by EOS, for each document in order. */
  static int[] stream(Tokenizer tok, List<String> docs) {
    return docs.stream()
        .flatMapToInt(d -> IntStream.concat(IntStream.of(tok.encode(d)), IntStream.of(tok.eosId())))
        .toArray();
  }

  static int[] readAll(TokenDataset ds, Split split) {
    int[] all = new int[Math.toIntExact(ds.tokens(split))];
    ds.read(split, 0, all, 0, all.length);
    return all;
  }

  /** Maps each code point to itself: a vocabulary of 0x110001 ids, so shards must be uint32. */
  static final class CodePointTokenizer implements Tokenizer {
    static final int EOS = 0x110000;

    @Override
    public int vocabSize() {
      return EOS + 1;
    }

    @Override
    public int[] encode(String text) {
      return text.codePoints().toArray();
    }

    @Override
    public String decode(int[] ids) {
      return new String(ids, 0, ids.length);
    }

    @Override
    public int eosId() {
      return EOS;
    }

    @Override
    public int bosId() {
      return EOS;
    }

    @Override
    public String id() {
      return "codepoint";
    }
  }
}
