package io.orthoslice.common.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokenDatasetTest {

  private static final ByteTokenizer BYTES = new ByteTokenizer();
  private static final List<String> DOCS =
      List.of("first document", "second", "the third one, longer");

  @TempDir Path tmp;
  private Path dir;
  private int[] expected;

  @BeforeEach
  void prepare() throws Exception {
    Path txt = TestCorpus.write(tmp.resolve("a.txt"), DOCS);
    dir = tmp.resolve("ds");
    PrepareData.prepare(List.of(CorpusSource.file(txt)), BYTES, dir, new PrepareOptions(0, 10, "text"));
    expected = TestCorpus.stream(BYTES, DOCS);
  }

  @Test
  void readsCrossMapChunksInsideAShardAndShardBoundaries() throws Exception {
    // 6-byte maps hold 3 uint16 tokens, so 10-token shards are split into 4 maps each.
    try (TokenDataset ds = TokenDataset.open(dir, 6)) {
      assertEquals(expected.length, ds.tokens(Split.TRAIN));
      for (int offset = 0; offset < expected.length; offset++) {
        for (int len = 0; offset + len <= expected.length; len++) {
          int[] dst = new int[len];
          ds.read(Split.TRAIN, offset, dst, 0, len);
          assertArrayEquals(Arrays.copyOfRange(expected, offset, offset + len), dst);
        }
      }
    }
  }

  @Test
  void idIsThePrefixOfTheManifestHash() throws Exception {
    byte[] manifest = Files.readAllBytes(dir.resolve("manifest.json"));
    String sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(manifest));
    try (TokenDataset ds = TokenDataset.open(dir)) {
      assertEquals(sha.substring(0, 16), ds.id());
      ds.verifyChecksums();
    }
  }

  @Test
  void readOutsideTheSplitIsRejected() throws Exception {
    try (TokenDataset ds = TokenDataset.open(dir)) {
      var e =
          assertThrows(
              IndexOutOfBoundsException.class,
              () -> ds.read(Split.TRAIN, expected.length - 2, new int[3], 0, 3));
      assertEquals(
          "tokens ["
              + (expected.length - 2)
              + ", "
              + (expected.length + 1)
              + ") are outside the "
              + expected.length
              + " tokens of split TRAIN",
          e.getMessage());
    }
  }

  @Test
  void readAfterCloseFails() throws Exception {
    TokenDataset ds = TokenDataset.open(dir);
    ds.close();
    assertThrows(IllegalStateException.class, () -> ds.read(Split.TRAIN, 0, new int[1], 0, 1));
  }

  @Test
  void shardOfTheWrongSizeIsRejected() throws Exception {
    Path shard = dir.resolve("train-00001.bin");
    try (RandomAccessFile f = new RandomAccessFile(shard.toFile(), "rw")) {
      f.setLength(f.length() - 2);
    }
    var e = assertThrows(IllegalArgumentException.class, () -> TokenDataset.open(dir));
    assertEquals(
        "shard " + shard + " has 18 bytes but the manifest says 10 uint16 tokens (20 bytes)",
        e.getMessage());
  }

  @Test
  void aCorruptShardIsRefusedWhenTheDatasetOpensAndAnIntactOneIsHashedOnce() throws Exception {
    TokenDataset.open(dir).close(); // checks every shard, records what it saw
    Path record = dir.resolve(ShardVerification.RECORD);
    assertTrue(Files.isRegularFile(record));
    String seen = Files.readString(record);
    TokenDataset.open(dir).close(); // nothing changed: nothing hashed, nothing rewritten
    assertEquals(seen, Files.readString(record));

    Path shard = dir.resolve("train-00000.bin");
    byte[] bytes = Files.readAllBytes(shard);
    bytes[3] ^= 1;
    Files.write(shard, bytes);
    Files.setLastModifiedTime(shard, java.nio.file.attribute.FileTime.fromMillis(
        Files.getLastModifiedTime(shard).toMillis() + 2000)); // a rewrite within the clock's tick still counts
    String actual = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    var e = assertThrows(IllegalArgumentException.class, () -> TokenDataset.open(dir));
    assertTrue(e.getMessage().startsWith("shard " + shard + " is corrupt: its SHA-256 is " + actual
        + " but the manifest says "), e.getMessage());
  }

  @Test
  void unknownFormatVersionIsRejected() throws Exception {
    Path manifest = dir.resolve("manifest.json");
    Files.writeString(
        manifest,
        Files.readString(manifest).replace("\"formatVersion\" : 1", "\"formatVersion\" : 2"));
    var e = assertThrows(IllegalArgumentException.class, () -> TokenDataset.open(dir));
    assertEquals(
        "manifest " + manifest + " has format version 2; this build reads version 1",
        e.getMessage());
  }

  @Test
  void unknownDtypeIsRejected() throws Exception {
    Path manifest = dir.resolve("manifest.json");
    Files.writeString(manifest, Files.readString(manifest).replace("\"uint16\"", "\"int8\""));
    var e = assertThrows(IllegalArgumentException.class, () -> TokenDataset.open(dir));
    assertEquals("dtype 'int8' is not supported; allowed: uint16, uint32", e.getMessage());
  }

  @Test
  void shardNamesOutsideTheDirectoryAreRejected() throws Exception {
    Path manifest = dir.resolve("manifest.json");
    Files.writeString(
        manifest, Files.readString(manifest).replace("\"train-00000.bin\"", "\"../x.bin\""));
    var e = assertThrows(IllegalArgumentException.class, () -> TokenDataset.open(dir));
    assertEquals(
        "manifest " + manifest + " is invalid: shard file '../x.bin' must be a plain file name",
        e.getMessage());
  }

  @Test
  void directoryWithoutManifestIsRejected() {
    var e = assertThrows(IllegalArgumentException.class, () -> TokenDataset.open(tmp));
    assertEquals(tmp + " is not a prepared dataset: manifest.json is missing", e.getMessage());
  }
}
