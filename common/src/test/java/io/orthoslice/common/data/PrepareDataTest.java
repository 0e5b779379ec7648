package io.orthoslice.common.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PrepareDataTest {

  private static final ByteTokenizer BYTES = new ByteTokenizer();
  private static final PrepareOptions ALL_TRAIN = PrepareOptions.DEFAULTS.withValFraction(0);

  @TempDir Path tmp;

  private Manifest prepare(Tokenizer tok, PrepareOptions options, Path... inputs) throws Exception {
    List<CorpusSource> sources = Stream.of(inputs).map(CorpusSource::file).toList();
    return PrepareData.prepare(sources, tok, tmp.resolve("out"), options);
  }

  private TokenDataset open() throws Exception {
    return TokenDataset.open(tmp.resolve("out"));
  }

  @Test
  void textDocumentsAreEncodedEachFollowedByEosAndBlankLinesSkipped() throws Exception {
    Path txt = TestCorpus.write(tmp.resolve("a.txt"), List.of("alpha beta", "", "  ", "gamma ünï"));
    Manifest m = prepare(BYTES, ALL_TRAIN, txt);
    try (TokenDataset ds = open()) {
      assertArrayEquals(
          TestCorpus.stream(BYTES, List.of("alpha beta", "gamma ünï")),
          TestCorpus.readAll(ds, Split.TRAIN));
      assertEquals(0, ds.tokens(Split.VALIDATION));
    }
    assertEquals(2, m.train().documents());
    assertEquals(0, m.validation().documents());
  }

  @Test
  void gzipTextJsonlAndLineDocsInputsFollowInputOrder() throws Exception {
    Path gz = TestCorpus.write(tmp.resolve("a.gz"), List.of("one", "two"));
    Path jsonl = TestCorpus.write(tmp.resolve("b.jsonl"), TestCorpus.jsonl(List.of("three")));
    Path jsonlGz =
        TestCorpus.write(tmp.resolve("c.jsonl.gz"), TestCorpus.jsonl(List.of("four", "five")));
    Path lineDocs =
        TestCorpus.write(
            tmp.resolve("d.lines.txt.gz"), List.of("Title\t2004-03-30\tsix\twith tab"));
    prepare(BYTES, ALL_TRAIN, gz, jsonl, jsonlGz, lineDocs);
    try (TokenDataset ds = open()) {
      assertArrayEquals(
          TestCorpus.stream(BYTES, List.of("one", "two", "three", "four", "five", "six\twith tab")),
          TestCorpus.readAll(ds, Split.TRAIN));
    }
  }

  @Test
  void documentsGoToValidationExactlyWhenTheirHashIsBelowTheFraction() throws Exception {
    List<String> docs = IntStream.range(0, 300).mapToObj(i -> "document number " + i).toList();
    Path txt = TestCorpus.write(tmp.resolve("docs.txt"), docs);
    Manifest m = prepare(BYTES, PrepareOptions.DEFAULTS.withValFraction(0.25), txt);
    BigInteger threshold = BigInteger.ONE.shiftLeft(62); // 0.25 * 2^64
    List<String> train = new ArrayList<>();
    List<String> val = new ArrayList<>();
    MessageDigest sha = MessageDigest.getInstance("SHA-256");
    for (String d : docs) {
      byte[] h = sha.digest(d.getBytes(StandardCharsets.UTF_8));
      BigInteger key = new BigInteger(1, Arrays.copyOf(h, 8));
      (key.compareTo(threshold) < 0 ? val : train).add(d);
    }
    try (TokenDataset ds = open()) {
      assertArrayEquals(TestCorpus.stream(BYTES, train), TestCorpus.readAll(ds, Split.TRAIN));
      assertArrayEquals(TestCorpus.stream(BYTES, val), TestCorpus.readAll(ds, Split.VALIDATION));
    }
    assertEquals(val.size(), m.validation().documents());
    assertTrue(val.size() > 50 && val.size() < 100, "val docs " + val.size());
  }

  @Test
  void valThresholdIsTheFractionOfTwoToTheSixtyFour() {
    assertEquals(0L, PrepareData.valThreshold(0));
    assertEquals(Long.MIN_VALUE, PrepareData.valThreshold(0.5)); // 2^63 as unsigned
    assertEquals(1L << 62, PrepareData.valThreshold(0.25));
  }

  @Test
  void shardsHoldAtMostShardTokensAndReadsCrossTheirBoundaries() throws Exception {
    List<String> docs = List.of("abc", "defgh", "ij", "klmnopqrstu");
    Path txt = TestCorpus.write(tmp.resolve("a.txt"), docs);
    Manifest m = prepare(BYTES, ALL_TRAIN.withShardTokens(7), txt);
    int[] expected = TestCorpus.stream(BYTES, docs); // 25 tokens
    assertEquals(
        List.of("train-00000.bin", "train-00001.bin", "train-00002.bin", "train-00003.bin"),
        m.train().shards().stream().map(Manifest.ShardEntry::file).toList());
    assertEquals(
        List.of(7L, 7L, 7L, 4L),
        m.train().shards().stream().map(Manifest.ShardEntry::tokens).toList());
    try (TokenDataset ds = open()) {
      for (int offset = 0; offset < expected.length; offset++) {
        for (int len = 0; offset + len <= expected.length; len++) {
          int[] dst = new int[len + 2];
          ds.read(Split.TRAIN, offset, dst, 1, len);
          assertArrayEquals(
              Arrays.copyOfRange(expected, offset, offset + len),
              Arrays.copyOfRange(dst, 1, 1 + len),
              "offset " + offset + " len " + len);
        }
      }
    }
  }

  @Test
  void largeVocabulariesAreStoredAsUint32() throws Exception {
    Tokenizer tok = new TestCorpus.CodePointTokenizer();
    List<String> docs = List.of("emoji 👍🏽 🇪🇺", "日本語");
    Path txt = TestCorpus.write(tmp.resolve("a.txt"), docs);
    Manifest m = prepare(tok, ALL_TRAIN.withShardTokens(5), txt);
    assertEquals("uint32", m.dtype());
    long bytes = Files.size(tmp.resolve("out").resolve("train-00000.bin"));
    assertEquals(5 * 4, bytes);
    try (TokenDataset ds = open()) {
      int[] read = TestCorpus.readAll(ds, Split.TRAIN);
      assertArrayEquals(TestCorpus.stream(tok, docs), read);
      assertEquals(0x1F44D, read[6]); // a code point above 65535 survives
    }
  }

  @Test
  void uint32CanBeForcedForSmallVocabularies() throws Exception {
    List<String> docs = List.of("forced wide", "second");
    Path txt = TestCorpus.write(tmp.resolve("a.txt"), docs);
    List<CorpusSource> sources = List.of(CorpusSource.file(txt));
    Manifest m =
        PrepareData.prepare(
            sources, BYTES, tmp.resolve("out"), ALL_TRAIN.withShardTokens(4), TokenDtype.UINT32);
    assertEquals("uint32", m.dtype());
    try (TokenDataset ds = open()) {
      assertArrayEquals(TestCorpus.stream(BYTES, docs), TestCorpus.readAll(ds, Split.TRAIN));
    }
  }

  @Test
  void huggingFaceTokenizedJsonlMatchesEncode() throws Exception {
    List<String> docs = List.of("the cat sat on the mat .", "a big red dog ran to the house !");
    Path jsonl = TestCorpus.write(tmp.resolve("a.jsonl"), TestCorpus.jsonl(docs));
    try (HuggingFaceTokenizerFile tok =
        HuggingFaceTokenizerFile.load(TokenizersTest.testTokenizer())) {
      Manifest m = prepare(tok, ALL_TRAIN, jsonl);
      assertEquals(tok.id(), m.tokenizerId());
      try (TokenDataset ds = open()) {
        int[] read = TestCorpus.readAll(ds, Split.TRAIN);
        assertArrayEquals(TestCorpus.stream(tok, docs), read);
        assertEquals(docs.get(0) + " </s> " + docs.get(1) + " </s>", tok.decode(read));
      }
    }
  }

  @Test
  void manifestRecordsTokenizerDtypeSourcesCountsAndShardHashes() throws Exception {
    Path txt = TestCorpus.write(tmp.resolve("a.txt"), List.of("x", "yz"));
    prepare(BYTES, ALL_TRAIN.withShardTokens(3), txt);
    Path out = tmp.resolve("out");
    JsonNode json = new ObjectMapper().readTree(out.resolve("manifest.json").toFile());
    assertEquals(1, json.get("formatVersion").asInt());
    assertEquals("byte", json.get("tokenizerId").asText());
    assertEquals(257, json.get("vocabSize").asInt());
    assertEquals(256, json.get("eosId").asInt());
    assertEquals(256, json.get("bosId").asInt());
    assertEquals("uint16", json.get("dtype").asText());
    assertEquals(0.0, json.get("valFraction").asDouble());
    assertEquals(txt.toString(), json.get("sources").get(0).asText());
    JsonNode train = json.get("train");
    assertEquals(5, train.get("tokens").asLong());
    assertEquals(2, train.get("documents").asLong());
    assertEquals(2, train.get("shards").size());
    for (JsonNode shard : train.get("shards")) {
      byte[] bytes = Files.readAllBytes(out.resolve(shard.get("file").asText()));
      assertEquals(shard.get("tokens").asLong() * 2, bytes.length);
      String sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
      assertEquals(sha, shard.get("sha256").asText());
    }
    assertEquals(0, json.get("validation").get("shards").size());
    // Little-endian uint16: 'x' then 'y'+'z'... first shard is x, EOS, y.
    byte[] first = Files.readAllBytes(out.resolve("train-00000.bin"));
    assertArrayEquals(new byte[] {'x', 0, 0, 1, 'y', 0}, first);
  }

  @Test
  void outputAppearsWithoutLeftoverTemporaryDirectories() throws Exception {
    Path txt = TestCorpus.write(tmp.resolve("a.txt"), List.of("doc"));
    prepare(BYTES, ALL_TRAIN, txt);
    try (Stream<Path> entries = Files.list(tmp)) {
      assertEquals(
          List.of("a.txt", "out"), entries.map(p -> p.getFileName().toString()).sorted().toList());
    }
  }

  @Test
  void secondPublishToTheSameDirectoryLosesAndCleansUp() throws Exception {
    Path txt = TestCorpus.write(tmp.resolve("a.txt"), List.of("doc"));
    List<CorpusSource> sources = List.of(CorpusSource.file(txt));
    Path out = tmp.resolve("out");
    var first = PrepareData.stage(sources, BYTES, out, ALL_TRAIN, TokenDtype.UINT16);
    var second = PrepareData.stage(sources, BYTES, out, ALL_TRAIN, TokenDtype.UINT16);
    assertTrue(PrepareData.publish(first.dir(), out));
    assertFalse(PrepareData.publish(second.dir(), out));
    assertFalse(Files.exists(second.dir()));
    assertTrue(Files.isRegularFile(out.resolve("manifest.json")));
  }

  @Test
  void existingNonEmptyOutputIsRefused() throws Exception {
    Path txt = TestCorpus.write(tmp.resolve("a.txt"), List.of("doc"));
    Files.createDirectories(tmp.resolve("out"));
    Files.writeString(tmp.resolve("out").resolve("keep.txt"), "mine");
    var e = assertThrows(IllegalArgumentException.class, () -> prepare(BYTES, ALL_TRAIN, txt));
    assertEquals(
        "output directory "
            + tmp.resolve("out")
            + " already exists and is not empty; remove it or choose another",
        e.getMessage());
  }

  @Test
  void missingInputFileIsRejected() {
    Path missing = tmp.resolve("missing.txt");
    var e = assertThrows(IllegalArgumentException.class, () -> CorpusSource.file(missing));
    assertEquals("input file " + missing + " does not exist or is not a file", e.getMessage());
  }

  @Test
  void unknownExtensionIsRejectedNamingTheAllowedOnes() throws Exception {
    Path csv = TestCorpus.write(tmp.resolve("a.csv"), List.of("doc"));
    var e = assertThrows(IllegalArgumentException.class, () -> CorpusSource.file(csv));
    assertEquals(
        "input file "
            + csv
            + " has an unknown extension; allowed: "
            + CorpusSource.ALLOWED_EXTENSIONS,
        e.getMessage());
  }

  @Test
  void jsonlLineWithoutStringTextIsReportedByFileAndLine() throws Exception {
    List<List<String>> cases =
        List.of(
            List.of("{\"txt\": \"doc\"}", "no field \"text\"; the object's fields are [txt]; choose one with --text-field"),
            List.of("{\"text\": 7}", "field \"text\" is number, not a string; choose a string field with --text-field"),
            List.of("[1, 2]", "not a JSON object; each JSONL line must be an object like {\"text\": \"...\"}"),
            List.of("{not json", "not a JSON object; each JSONL line must be an object like {\"text\": \"...\"}"));
    for (List<String> c : cases) {
      Path jsonl = TestCorpus.write(tmp.resolve("a.jsonl"), List.of("{\"text\": \"ok\"}", c.get(0)));
      var e = assertThrows(IllegalArgumentException.class, () -> prepare(BYTES, ALL_TRAIN, jsonl));
      assertEquals(jsonl + ":2: " + c.get(1), e.getMessage());
      assertFalse(Files.exists(tmp.resolve("out")));
    }
    try (Stream<Path> entries = Files.list(tmp)) {
      assertEquals(List.of("a.jsonl"), entries.map(p -> p.getFileName().toString()).toList());
    }
  }

  @Test
  void lineDocsLineWithoutTwoTabsIsReportedByFileAndLine() throws Exception {
    Path docs = TestCorpus.write(tmp.resolve("a.lines.txt"), List.of("t\td\tbody", "no tabs here"));
    var e = assertThrows(IllegalArgumentException.class, () -> prepare(BYTES, ALL_TRAIN, docs));
    assertEquals(docs + ":2: line-docs lines must be title<TAB>date<TAB>body", e.getMessage());
  }

  @Test
  void corpusWithoutDocumentsIsRejected() throws Exception {
    Path txt = TestCorpus.write(tmp.resolve("a.txt"), List.of("", "   "));
    var e = assertThrows(IllegalArgumentException.class, () -> prepare(BYTES, ALL_TRAIN, txt));
    assertEquals(
        "no documents in [" + txt + "]; the inputs need at least one non-blank line",
        e.getMessage());
    assertFalse(Files.exists(tmp.resolve("out")));
  }

  @Test
  void emptyInputListIsRejected() {
    var e =
        assertThrows(
            IllegalArgumentException.class,
            () -> PrepareData.prepare(List.of(), BYTES, tmp.resolve("out"), ALL_TRAIN));
    assertEquals("no inputs given; allowed: " + CorpusSource.ALLOWED_EXTENSIONS, e.getMessage());
  }

  @Test
  void optionsOutsideTheirRangesAreRejected() {
    assertEquals(
        "valFraction must be in [0, 1), got 1.0",
        assertThrows(IllegalArgumentException.class, () -> new PrepareOptions(1.0, 10, "text"))
            .getMessage());
    assertEquals(
        "shardTokens must be positive, got 0",
        assertThrows(IllegalArgumentException.class, () -> new PrepareOptions(0.1, 0, "text"))
            .getMessage());
  }
}
