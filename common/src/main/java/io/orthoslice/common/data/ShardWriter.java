package io.orthoslice.common.data;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * Appends one split's tokens to {@code <stem>-00000.bin}, {@code <stem>-00001.bin}, ... of at most
 * {@code shardTokens} tokens each, hashing as it goes so no file is read twice.
 */
final class ShardWriter implements Closeable {

  private static final int BUFFER_BYTES = 1 << 20;

  private final Path dir;
  private final Split split;
  private final TokenDtype dtype;
  private final long shardTokens;
  private final ByteBuffer buffer =
      ByteBuffer.allocateDirect(BUFFER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
  private final List<Manifest.ShardEntry> finished = new ArrayList<>();
  private final MessageDigest digest;

  private FileChannel channel;
  private String fileName;
  private long inShard;
  private long total;

  ShardWriter(Path dir, Split split, TokenDtype dtype, long shardTokens) {
    this.dir = dir;
    this.split = split;
    this.dtype = dtype;
    this.shardTokens = shardTokens;
    try {
      this.digest = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is required by every Java platform", e);
    }
  }

  void write(int[] ids) throws IOException {
    for (int id : ids) {
      write(id);
    }
  }

  void write(int id) throws IOException {
    if (channel == null) {
      openShard();
    }
    if (buffer.remaining() < dtype.width()) {
      flush();
    }
    if (dtype == TokenDtype.UINT16) {
      buffer.putShort((short) id);
    } else {
      buffer.putInt(id);
    }
    inShard++;
    total++;
    if (inShard == shardTokens) {
      closeShard();
    }
  }

  long tokens() {
    return total;
  }

  /** Closes the last shard and returns the split's entry. */
  Manifest.SplitEntry finish(long documents) throws IOException {
    if (channel != null) {
      closeShard();
    }
    return new Manifest.SplitEntry(total, documents, finished);
  }

  private void openShard() throws IOException {
    fileName = String.format("%s-%05d.bin", split.fileStem(), finished.size());
    channel =
        FileChannel.open(
            dir.resolve(fileName), StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
    inShard = 0;
    digest.reset();
  }

  private void flush() throws IOException {
    buffer.flip();
    digest.update(buffer.duplicate());
    while (buffer.hasRemaining()) {
      channel.write(buffer);
    }
    buffer.clear();
  }

  private void closeShard() throws IOException {
    flush();
    // Durable before the directory is renamed into place, so a crash never publishes a torn shard.
    channel.force(true);
    channel.close();
    channel = null;
    finished.add(
        new Manifest.ShardEntry(fileName, inShard, HexFormat.of().formatHex(digest.digest())));
  }

  @Override
  public void close() throws IOException {
    if (channel != null) {
      channel.close();
      channel = null;
    }
  }
}
