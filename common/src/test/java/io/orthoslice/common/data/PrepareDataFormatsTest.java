package io.orthoslice.common.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.apache.parquet.conf.PlainParquetConfiguration;
import org.apache.parquet.hadoop.ParquetFileReader;
import org.apache.parquet.hadoop.metadata.CompressionCodecName;
import org.apache.parquet.io.LocalInputFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Parquet and .jsonl.zst inputs, --text-field, and the rule that a format never changes the shards. */
class PrepareDataFormatsTest {

  private static final ByteTokenizer BYTES = new ByteTokenizer();
  private static final ObjectMapper JSON = new ObjectMapper();

  /** Single-line documents, so that .txt can carry them too: Unicode, quotes, tabs, backslashes. */
  private static final List<String> DOCS =
      IntStream.range(0, 120)
          .mapToObj(i -> "doc " + i + " «ünï» \"quoted\"\ttab \\ back " + "x".repeat(i % 17) + " 👍")
          .toList();

  @TempDir Path tmp;

  private static PrepareOptions options() {
    // Both splits non-empty and several shards each, so that the comparison covers the split too.
    return PrepareOptions.DEFAULTS.withValFraction(0.3).withShardTokens(1000);
  }

  private Path prepare(String name, Tokenizer tok, PrepareOptions options, Path... inputs)
      throws IOException {
    Path out = tmp.resolve(name);
    PrepareData.prepare(Stream.of(inputs).map(CorpusSource::file).toList(), tok, out, options);
    return out;
  }

  private Path jsonl(String file, String field, List<String> docs) throws IOException {
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < docs.size(); i++) {
      Map<String, Object> row = new LinkedHashMap<>();
      row.put("id", i);
      row.put(field, docs.get(i));
      lines.add(JSON.writeValueAsString(row));
    }
    return TestCorpus.write(tmp.resolve(file), lines);
  }

  /** Every shard file of {@code dir} by name, with its bytes. */
  private static Map<String, byte[]> shards(Path dir) throws IOException {
    Map<String, byte[]> files = new LinkedHashMap<>();
    try (Stream<Path> list = Files.list(dir)) {
      for (Path p : list.filter(p -> p.toString().endsWith(".bin")).sorted().toList()) {
        files.put(p.getFileName().toString(), Files.readAllBytes(p));
      }
    }
    return files;
  }

  private static void assertSameShards(Path expected, Path actual) throws IOException {
    Map<String, byte[]> want = shards(expected);
    Map<String, byte[]> got = shards(actual);
    assertEquals(want.keySet(), got.keySet(), actual.toString());
    for (String name : want.keySet()) {
      assertArrayEquals(want.get(name), got.get(name), actual + "/" + name);
    }
  }

  @Test
  void sameDocumentsInEveryFormatGiveByteIdenticalShards() throws Exception {
    Path txt = prepare("txt", BYTES, options(), TestCorpus.write(tmp.resolve("d.txt"), DOCS));
    try (TokenDataset ds = TokenDataset.open(txt)) {
      assertTrue(ds.tokens(Split.TRAIN) > 2000 && ds.tokens(Split.VALIDATION) > 500);
    }
    assertTrue(shards(txt).size() > 4, "several shards: " + shards(txt).keySet());
    List<Path> others =
        List.of(
            jsonl("d.jsonl", "text", DOCS),
            jsonl("d.jsonl.gz", "text", DOCS),
            jsonl("d.jsonl.zst", "text", DOCS),
            TestParquet.write(tmp.resolve("snappy.parquet"), "text", DOCS, CompressionCodecName.SNAPPY, 16),
            TestParquet.write(tmp.resolve("zstd.parquet"), "text", DOCS, CompressionCodecName.ZSTD, 16),
            TestParquet.write(tmp.resolve("gzip.parquet"), "text", DOCS, CompressionCodecName.GZIP, 1000),
            TestParquet.write(
                tmp.resolve("plain.parquet"), "text", DOCS, CompressionCodecName.UNCOMPRESSED, 1000));
    for (Path input : others) {
      assertSameShards(txt, prepare("from-" + input.getFileName(), BYTES, options(), input));
    }
  }

  @Test
  void parquetAndJsonlZstGiveTheTokensOfEncodeFollowedByEos() throws Exception {
    // Multi-line documents, which neither .txt nor line docs can carry.
    List<String> docs = List.of("first line\nsecond line", "日本語\n\n段落", "plain");
    PrepareOptions allTrain = PrepareOptions.DEFAULTS.withValFraction(0);
    try (HuggingFaceTokenizerFile tok =
        HuggingFaceTokenizerFile.load(TokenizersTest.testTokenizer())) {
      for (Path input :
          List.of(jsonl("m.jsonl.zst", "text", docs), TestParquet.write(tmp.resolve("m.parquet"), docs))) {
        for (Tokenizer t : List.<Tokenizer>of(BYTES, tok)) {
          Path out = prepare(input.getFileName() + "-" + t.id(), t, allTrain, input);
          try (TokenDataset ds = TokenDataset.open(out)) {
            assertArrayEquals(TestCorpus.stream(t, docs), TestCorpus.readAll(ds, Split.TRAIN), out.toString());
          }
        }
      }
    }
  }

  @Test
  void parquetIsReadRowGroupByRowGroupSkippingNullAndBlankRows() throws Exception {
    List<String> docs = new ArrayList<>();
    for (int i = 0; i < 200; i++) {
      docs.add(i % 10 == 3 ? null : i % 10 == 7 ? "   " : "row " + i + " " + "y".repeat(i % 23));
    }
    Path file = TestParquet.write(tmp.resolve("groups.parquet"), "text", docs, CompressionCodecName.SNAPPY, 16);
    try (ParquetFileReader reader =
        ParquetFileReader.open(
            new LocalInputFile(file),
            org.apache.parquet.ParquetReadOptions.builder(new PlainParquetConfiguration())
                .withCodecFactory(new ParquetCodecs(file.toString()))
                .build())) {
      assertEquals(13, reader.getRowGroups().size()); // 200 rows, 16 a group
    }
    List<String> kept = docs.stream().filter(d -> d != null && !d.isBlank()).toList();
    PrepareProgress progress = PrepareProgress.quiet();
    Manifest m =
        PrepareData.prepare(
            List.of(CorpusSource.file(file)),
            BYTES,
            tmp.resolve("out"),
            PrepareOptions.DEFAULTS.withValFraction(0),
            progress);
    try (TokenDataset ds = TokenDataset.open(tmp.resolve("out"))) {
      assertArrayEquals(TestCorpus.stream(BYTES, kept), TestCorpus.readAll(ds, Split.TRAIN));
    }
    assertEquals(kept.size(), m.train().documents());
    assertEquals(kept.size(), progress.documents());
    assertEquals(m.train().tokens(), progress.tokens());
    assertEquals(Files.size(file), progress.bytes());
  }

  @Test
  void dictionaryEncodedParquetColumnsAreDecoded() throws Exception {
    // Repeated values are dictionary-encoded, as pyarrow and parquet-java write them by default.
    List<String> docs =
        IntStream.range(0, 90).mapToObj(i -> List.of("alpha", "beta gamma", "δέλτα").get(i % 3)).toList();
    Path file = TestParquet.write(tmp.resolve("dict.parquet"), "text", docs, CompressionCodecName.SNAPPY, 1000);
    try (ParquetFileReader reader =
        ParquetFileReader.open(
            new LocalInputFile(file),
            org.apache.parquet.ParquetReadOptions.builder(new PlainParquetConfiguration())
                .withCodecFactory(new ParquetCodecs(file.toString()))
                .build())) {
      assertTrue(
          reader.getRowGroups().get(0).getColumns().get(1).getEncodings().stream()
              .anyMatch(org.apache.parquet.column.Encoding::usesDictionary),
          reader.getRowGroups().get(0).getColumns().get(1).getEncodings().toString());
    }
    Path out = prepare("out", BYTES, PrepareOptions.DEFAULTS.withValFraction(0), file);
    try (TokenDataset ds = TokenDataset.open(out)) {
      assertArrayEquals(TestCorpus.stream(BYTES, docs), TestCorpus.readAll(ds, Split.TRAIN));
    }
  }

  @Test
  void progressCountsCompressedInputBytesDocumentsAndTokens() throws Exception {
    Path zst = jsonl("p.jsonl.zst", "text", DOCS);
    PrepareProgress progress = PrepareProgress.quiet();
    Manifest m =
        PrepareData.prepare(List.of(CorpusSource.file(zst)), BYTES, tmp.resolve("out"), options(), progress);
    assertEquals(Files.size(zst), progress.bytes());
    assertEquals(DOCS.size(), progress.documents());
    assertEquals(m.train().tokens() + m.validation().tokens(), progress.tokens());
  }

  @Test
  void textFieldChoosesTheJsonlFieldAndTheParquetColumn() throws Exception {
    Path txt = prepare("txt", BYTES, options(), TestCorpus.write(tmp.resolve("d.txt"), DOCS));
    PrepareOptions content = options().withTextField("content");
    assertSameShards(txt, prepare("jsonl", BYTES, content, jsonl("c.jsonl.zst", "content", DOCS)));
    Path parquet =
        TestParquet.write(tmp.resolve("c.parquet"), "content", DOCS, CompressionCodecName.SNAPPY, 32);
    assertSameShards(txt, prepare("parquet", BYTES, content, parquet));
  }

  @Test
  void missingParquetColumnNamesTheFileTheColumnAndTheColumnsThatExist() throws Exception {
    Path parquet =
        TestParquet.write(tmp.resolve("c.parquet"), "content", DOCS, CompressionCodecName.SNAPPY, 32);
    var e =
        assertThrows(
            IllegalArgumentException.class, () -> prepare("out", BYTES, options(), parquet));
    assertEquals(
        parquet + ": no column \"text\"; its columns are [id, content]; choose one with --text-field",
        e.getMessage());
    assertFalse(Files.exists(tmp.resolve("out")));
  }

  @Test
  void missingJsonlFieldNamesTheFileLineFieldAndTheFieldsThatExist() throws Exception {
    Path zst = jsonl("c.jsonl.zst", "content", DOCS);
    var e =
        assertThrows(
            IllegalArgumentException.class,
            () -> prepare("out", BYTES, options().withTextField("body"), zst));
    assertEquals(
        zst + ":1: no field \"body\"; the object's fields are [id, content]; choose one with --text-field",
        e.getMessage());
  }

  @Test
  void nonStringParquetColumnIsRejectedByName() throws Exception {
    Path parquet = TestParquet.write(tmp.resolve("c.parquet"), DOCS);
    var e =
        assertThrows(
            IllegalArgumentException.class,
            () -> prepare("out", BYTES, options().withTextField("id"), parquet));
    assertEquals(
        parquet
            + ": column \"id\" is not a string column (required int64 id); choose one with"
            + " --text-field",
        e.getMessage());
  }

  @Test
  void fileThatIsNotParquetGivesOneLineNamingIt() throws Exception {
    Path fake = TestCorpus.write(tmp.resolve("fake.parquet"), List.of("not parquet at all"));
    var e =
        assertThrows(IllegalArgumentException.class, () -> prepare("out", BYTES, options(), fake));
    assertTrue(e.getMessage().startsWith(fake + ": not a readable Parquet file ("), e.getMessage());
    assertEquals(1, e.getMessage().lines().count(), e.getMessage());
  }

  @Test
  void corruptParquetPageGivesOneLineNamingTheFile() throws Exception {
    Path file = TestParquet.write(tmp.resolve("bad.parquet"), DOCS);
    long textChunk;
    try (ParquetFileReader reader =
        ParquetFileReader.open(
            new LocalInputFile(file),
            org.apache.parquet.ParquetReadOptions.builder(new PlainParquetConfiguration())
                .withCodecFactory(new ParquetCodecs(file.toString()))
                .build())) {
      textChunk = reader.getRowGroups().get(0).getColumns().get(1).getStartingPos();
    }
    byte[] bytes = Files.readAllBytes(file);
    java.util.Arrays.fill(bytes, (int) textChunk, (int) textChunk + 12, (byte) 0xFF); // its page header
    Files.write(file, bytes);
    Exception e = assertThrows(Exception.class, () -> prepare("out", BYTES, options(), file));
    assertTrue(e instanceof IOException || e instanceof IllegalArgumentException, e.toString());
    assertTrue(e.getMessage().startsWith(file + ": "), e.getMessage());
    assertEquals(1, e.getMessage().lines().count(), e.getMessage());
    assertFalse(Files.exists(tmp.resolve("out")));
  }

  @Test
  void fileThatIsNotZstdGivesOneLineNamingIt() throws Exception {
    Path fake = Files.writeString(tmp.resolve("fake.jsonl.zst"), "{\"text\": \"not compressed\"}\n");
    var e = assertThrows(IOException.class, () -> prepare("out", BYTES, options(), fake));
    assertTrue(e.getMessage().startsWith(fake + ": cannot decompress (zstd): "), e.getMessage());
    assertEquals(1, e.getMessage().lines().count(), e.getMessage());
    assertFalse(Files.exists(tmp.resolve("out")));
  }

  @Test
  void compressedParquetAndUnknownCompressionsAreRejectedByExtension() throws Exception {
    for (String name : List.of("a.parquet.gz", "a.parquet.zst", "a.zst", "a.csv")) {
      Path file = TestCorpus.write(tmp.resolve(name), List.of("doc"));
      var e = assertThrows(IllegalArgumentException.class, () -> CorpusSource.file(file));
      assertEquals(
          "input file " + file + " has an unknown extension; allowed: " + CorpusSource.ALLOWED_EXTENSIONS,
          e.getMessage());
    }
  }

  @Test
  void llamaStyleModelDirectoryAboveUint16GivesUint32ShardsOfItsIds() throws Exception {
    Path model = LlamaStyleTokenizer.write(tmp.resolve("llama"));
    List<String> docs = List.of("the theme", "naïve café 👍", "x");
    Path parquet = TestParquet.write(tmp.resolve("l.parquet"), docs);
    try (HuggingFaceTokenizerFile tok = (HuggingFaceTokenizerFile) Tokenizers.load(model.toString())) {
      assertEquals(LlamaStyleTokenizer.VOCAB, tok.vocabSize());
      assertEquals(LlamaStyleTokenizer.END_OF_TEXT, tok.eosId());
      assertEquals(LlamaStyleTokenizer.BEGIN_OF_TEXT, tok.bosId());
      // "the" is one merged token; 'x' is byte 0x78 of the byte-level alphabet.
      assertArrayEquals(new int[] {LlamaStyleTokenizer.THE}, tok.encode("the"));
      assertArrayEquals(new int[] {LlamaStyleTokenizer.FIRST_BYTE_ID + 'x'}, tok.encode("x"));
      Path out = prepare("out", tok, PrepareOptions.DEFAULTS.withValFraction(0), parquet);
      try (TokenDataset ds = TokenDataset.open(out)) {
        assertEquals("uint32", ds.manifest().dtype());
        int[] read = TestCorpus.readAll(ds, Split.TRAIN);
        assertArrayEquals(TestCorpus.stream(tok, docs), read);
        assertTrue(IntStream.of(read).allMatch(id -> id >= LlamaStyleTokenizer.FIRST_BYTE_ID), "ids above uint16");
        assertEquals(String.join("<|end_of_text|>", docs) + "<|end_of_text|>", tok.decode(read));
      }
    }
  }

  @Test
  void aModelDirectoryServesItsTokenizerJson() throws Exception {
    // A Hugging Face snapshot: tokenizer.json beside the model's config and weights.
    Path model = Files.createDirectories(tmp.resolve("model"));
    Files.copy(TokenizersTest.testTokenizer(), model.resolve("tokenizer.json"));
    Files.writeString(model.resolve("config.json"), "{\"model_type\": \"llama\"}");
    Files.writeString(model.resolve("tokenizer_config.json"), "{}");
    List<String> docs = List.of("the cat sat on the mat .", "a big red dog ran !");
    Path parquet = TestParquet.write(tmp.resolve("m.parquet"), docs);
    try (HuggingFaceTokenizerFile fromDir = (HuggingFaceTokenizerFile) Tokenizers.load(model.toString());
        HuggingFaceTokenizerFile fromFile =
            HuggingFaceTokenizerFile.load(TokenizersTest.testTokenizer())) {
      Path out = prepare("out", fromDir, PrepareOptions.DEFAULTS.withValFraction(0), parquet);
      try (TokenDataset ds = TokenDataset.open(out)) {
        assertArrayEquals(TestCorpus.stream(fromFile, docs), TestCorpus.readAll(ds, Split.TRAIN));
      }
      assertEquals(fromFile.id(), fromDir.id());
    }
  }
}
