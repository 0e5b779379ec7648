package io.orthoslice.common.checkpoint;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * SHA-256 of every file of a checkpoint, kept in {@code checksums.json} beside them, so that a
 * checkpoint damaged on disk or in a copy is refused on load instead of silently resuming from
 * corrupt weights. Digests are taken of the bytes as they are written, which costs no second read
 * of a multi-gigabyte file.
 */
final class Checksums {

  static final String FILE = "checksums.json";

  private static final ObjectMapper JSON = new ObjectMapper();

  private final Map<String, String> sha256 = new LinkedHashMap<>();

  /** Creates {@code dir/name} (it must not exist) with {@code content}, fsyncs it and records its digest. */
  void write(Path dir, String name, AtomicFiles.Content content) throws IOException {
    MessageDigest md = newDigest();
    try (FileChannel ch = FileChannel.open(dir.resolve(name), StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
      content.writeTo(new DigestingChannel(ch, md));
      ch.force(true);
    }
    sha256.put(name, HexFormat.of().formatHex(md.digest()));
  }

  void write(Path dir, String name, byte[] bytes) throws IOException {
    write(dir, name, out -> {
      ByteBuffer b = ByteBuffer.wrap(bytes);
      while (b.hasRemaining()) {
        out.write(b);
      }
    });
  }

  /** Writes {@code checksums.json} listing every file written so far. */
  void writeManifest(Path dir) throws IOException {
    Map<String, Object> doc = new LinkedHashMap<>();
    doc.put("algorithm", "SHA-256");
    doc.put("files", sha256);
    byte[] bytes = JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(doc);
    try (FileChannel ch = FileChannel.open(dir.resolve(FILE), StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
      ByteBuffer b = ByteBuffer.wrap(bytes);
      while (b.hasRemaining()) {
        ch.write(b);
      }
      ch.force(true);
    }
  }

  /**
   * Checks every file {@code dir/checksums.json} lists. Returns false when there is no manifest (a
   * plain Hugging Face directory); a missing or altered file is an IOException naming it.
   */
  static boolean verify(Path dir) throws IOException {
    Path manifest = dir.resolve(FILE);
    if (!Files.exists(manifest)) {
      return false;
    }
    JsonNode doc = JSON.readTree(manifest.toFile());
    JsonNode files = doc == null ? null : doc.get("files");
    if (files == null || !files.isObject() || !"SHA-256".equals(doc.path("algorithm").asText())) {
      throw new IOException(manifest + ": expected {\"algorithm\": \"SHA-256\", \"files\": {name: hex}}");
    }
    for (Map.Entry<String, JsonNode> f : files.properties()) {
      Path file = dir.resolve(f.getKey()).normalize();
      if (!file.getParent().equals(dir.normalize()) || !f.getValue().isTextual()) {
        throw new IOException(manifest + ": entry '" + f.getKey() + "' must name a file in the checkpoint directory");
      }
      if (!Files.isRegularFile(file)) {
        throw new IOException(file + " is listed in " + FILE + " but missing; the checkpoint is incomplete");
      }
      String actual = digestOf(file);
      if (!actual.equalsIgnoreCase(f.getValue().textValue())) {
        throw new IOException(file + " is corrupt: SHA-256 " + actual + " does not match " + f.getValue().textValue()
            + " recorded in " + FILE);
      }
    }
    return true;
  }

  static String digestOf(Path file) throws IOException {
    MessageDigest md = newDigest();
    ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20);
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      while (ch.read(buf) >= 0) {
        buf.flip();
        md.update(buf);
        buf.clear();
      }
    }
    return HexFormat.of().formatHex(md.digest());
  }

  private static MessageDigest newDigest() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java platform must provide SHA-256", e);
    }
  }

  /** Passes writes through, digesting exactly the bytes the file channel accepted. */
  private static final class DigestingChannel implements WritableByteChannel {
    private final WritableByteChannel out;
    private final MessageDigest md;

    DigestingChannel(WritableByteChannel out, MessageDigest md) {
      this.out = out;
      this.md = md;
    }

    @Override
    public int write(ByteBuffer src) throws IOException {
      int start = src.position();
      int n = out.write(src);
      ByteBuffer written = src.duplicate();
      written.position(start).limit(start + n);
      md.update(written);
      return n;
    }

    @Override
    public boolean isOpen() {
      return out.isOpen();
    }

    @Override
    public void close() throws IOException {
      out.close();
    }
  }
}
