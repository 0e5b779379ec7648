package io.orthoslice.common.data;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.EnumMap;
import java.util.HexFormat;
import java.util.Map;
import java.util.Objects;

/**
 * A prepared dataset (see {@link PrepareData}) opened for reading: each split is one stream of
 * token ids addressed by a long offset, memory-mapped read-only, so opening is cheap and the OS
 * page cache is shared by every process reading the same directory. Reads are safe from several
 * threads. Independent of any {@link Tokenizer}.
 */
public final class TokenDataset implements AutoCloseable {

  private final Path dir;
  private final Manifest manifest;
  private final String id;
  private final Map<Split, MappedShards> splits;
  private volatile boolean closed;

  private TokenDataset(Path dir, Manifest manifest, String id, Map<Split, MappedShards> splits) {
    this.dir = dir;
    this.manifest = manifest;
    this.id = id;
    this.splits = splits;
  }

  /**
   * Opens {@code dir}, checking the manifest's version and dtype, every shard's size, and every
   * shard's SHA-256 (once per change of the shard: {@link ShardVerification}).
   */
  public static TokenDataset open(Path dir) throws IOException {
    return open(dir, MappedShards.DEFAULT_CHUNK_BYTES);
  }

  static TokenDataset open(Path dir, long maxChunkBytes) throws IOException {
    Path file = dir.resolve(PrepareData.MANIFEST);
    byte[] bytes = Manifest.bytes(dir);
    Manifest manifest = Manifest.parse(file, bytes);
    TokenDtype dtype = TokenDtype.of(manifest.dtype());
    if (dtype == TokenDtype.UINT16 && manifest.vocabSize() > 65536) {
      throw new IllegalArgumentException(
          "manifest " + file + " stores vocabSize " + manifest.vocabSize() + " as uint16");
    }
    Map<Split, MappedShards> splits = new EnumMap<>(Split.class);
    for (Split split : Split.values()) {
      splits.put(split, MappedShards.map(dir, manifest.split(split), dtype, maxChunkBytes));
    }
    ShardVerification.verify(dir, manifest); // once per change of a shard (ShardVerification.RECORD)
    return new TokenDataset(dir, manifest, sha256Hex(bytes).substring(0, 16), splits);
  }

  public Path directory() {
    return dir;
  }

  public Manifest manifest() {
    return manifest;
  }

  /**
   * Identity of the dataset for checkpoints and run records: the first 16 hex digits of the
   * manifest's SHA-256, which covers every shard's SHA-256.
   */
  public String id() {
    return id;
  }

  public long tokens(Split split) {
    return splits.get(split).tokens();
  }

  /** Copies tokens [offset, offset + len) of {@code split} into {@code dst[dstOff ..]}. */
  public void read(Split split, long offset, int[] dst, int dstOff, int len) {
    if (closed) {
      throw new IllegalStateException("dataset " + dir + " is closed");
    }
    Objects.checkFromIndexSize(dstOff, len, dst.length);
    MappedShards shards = splits.get(split);
    if (offset < 0 || offset > shards.tokens() - len) {
      throw new IndexOutOfBoundsException(
          "tokens ["
              + offset
              + ", "
              + (offset + len)
              + ") are outside the "
              + shards.tokens()
              + " tokens of split "
              + split);
    }
    shards.read(offset, dst, dstOff, len);
  }

  /**
   * Re-hashes every shard and compares with the manifest, whatever {@link ShardVerification}
   * recorded; reads the whole dataset, so it is for after a copy or on suspicion.
   *
   * @throws IllegalStateException naming the first shard whose bytes do not match
   */
  public void verifyChecksums() throws IOException {
    for (Split split : Split.values()) {
      for (Manifest.ShardEntry shard : manifest.split(split).shards()) {
        String actual = ShardVerification.sha256Hex(dir.resolve(shard.file()));
        if (!actual.equals(shard.sha256())) {
          throw new IllegalStateException(
              "shard "
                  + dir.resolve(shard.file())
                  + " is corrupt: SHA-256 "
                  + actual
                  + " but the manifest says "
                  + shard.sha256());
        }
      }
    }
  }


  private static String sha256Hex(byte[] bytes) {
    return HexFormat.of().formatHex(sha256().digest(bytes));
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is required by every Java platform", e);
    }
  }

  /** Mappings are released by the garbage collector; closing stops further reads. */
  @Override
  public void close() {
    closed = true;
  }

  @Override
  public String toString() {
    return "TokenDataset[" + dir + ", " + id + "]";
  }
}
