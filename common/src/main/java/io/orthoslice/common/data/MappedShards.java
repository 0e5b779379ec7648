package io.orthoslice.common.data;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * One split's shards as a single read-only token stream over memory maps. A map holds at most
 * {@code maxChunkBytes} (one {@link ByteBuffer} is limited to 2^31-1 bytes), so a large shard is
 * mapped as several chunks; reads cross chunk and shard boundaries transparently.
 */
final class MappedShards {

  /** 1 GiB: a multiple of every token width, well under the 2^31-1 byte limit of one map. */
  static final long DEFAULT_CHUNK_BYTES = 1L << 30;

  private final TokenDtype dtype;
  private final long tokens;
  private final long[] chunkStart; // first token of each chunk, ascending
  private final ByteBuffer[] chunks;

  private MappedShards(TokenDtype dtype, long tokens, long[] chunkStart, ByteBuffer[] chunks) {
    this.dtype = dtype;
    this.tokens = tokens;
    this.chunkStart = chunkStart;
    this.chunks = chunks;
  }

  /** Maps the shards of {@code split}, checking each file's size against the manifest. */
  static MappedShards map(Path dir, Manifest.SplitEntry split, TokenDtype dtype, long maxChunkBytes)
      throws IOException {
    if (maxChunkBytes < dtype.width() || maxChunkBytes > DEFAULT_CHUNK_BYTES) {
      throw new IllegalArgumentException(
          "maxChunkBytes must be in [" + dtype.width() + ", 2^30], got " + maxChunkBytes);
    }
    long chunkTokens = maxChunkBytes / dtype.width();
    List<Long> starts = new ArrayList<>();
    List<ByteBuffer> buffers = new ArrayList<>();
    long position = 0;
    for (Manifest.ShardEntry shard : split.shards()) {
      Path file = dir.resolve(shard.file());
      long expected = shard.tokens() * dtype.width();
      long actual = Files.isRegularFile(file) ? Files.size(file) : -1;
      if (actual != expected) {
        throw new IllegalArgumentException(
            "shard "
                + file
                + (actual < 0 ? " is missing" : " has " + actual + " bytes")
                + " but the manifest says "
                + shard.tokens()
                + " "
                + dtype.label()
                + " tokens ("
                + expected
                + " bytes)");
      }
      try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
        // A mapping stays valid after its channel is closed.
        for (long t = 0; t < shard.tokens(); t += chunkTokens) {
          long n = Math.min(chunkTokens, shard.tokens() - t);
          ByteBuffer map =
              ch.map(FileChannel.MapMode.READ_ONLY, t * dtype.width(), n * dtype.width());
          starts.add(position + t);
          buffers.add(map.order(ByteOrder.LITTLE_ENDIAN));
        }
      }
      position += shard.tokens();
    }
    return new MappedShards(
        dtype,
        position,
        starts.stream().mapToLong(Long::longValue).toArray(),
        buffers.toArray(ByteBuffer[]::new));
  }

  long tokens() {
    return tokens;
  }

  /** Copies tokens [offset, offset + len) into dst[dstOff ..]; bounds are checked by the caller. */
  void read(long offset, int[] dst, int dstOff, int len) {
    int chunk = chunkContaining(offset);
    long position = offset;
    int done = 0;
    while (done < len) {
      ByteBuffer buf = chunks[chunk];
      int within = (int) (position - chunkStart[chunk]);
      int available = buf.capacity() / dtype.width() - within;
      int n = Math.min(available, len - done);
      if (dtype == TokenDtype.UINT16) {
        for (int i = 0; i < n; i++) {
          dst[dstOff + done + i] = Short.toUnsignedInt(buf.getShort((within + i) << 1));
        }
      } else {
        for (int i = 0; i < n; i++) {
          dst[dstOff + done + i] = buf.getInt((within + i) << 2);
        }
      }
      done += n;
      position += n;
      chunk++;
    }
  }

  private int chunkContaining(long offset) {
    int i = Arrays.binarySearch(chunkStart, offset);
    return i >= 0 ? i : -i - 2;
  }
}
