package io.orthoslice.common.data;

import com.fasterxml.jackson.core.type.TypeReference;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Every shard's SHA-256 is checked against the manifest when a dataset is opened, once: a shard whose
 * size and modification time are those recorded at its last successful check (in the dataset's
 * {@value #RECORD}) is not read again, so a dataset costs one pass over its bytes per change, not
 * per process start. A corrupt shard is refused with one line naming it. Where the directory is
 * read-only, nothing is recorded and every open checks again.
 */
final class ShardVerification {

  static final String RECORD = ".verified.json";
  private static final Logger LOG = LoggerFactory.getLogger(ShardVerification.class);

  /** What a successful check saw of a shard. */
  record Seen(long size, long modifiedMillis, String sha256) {}

  private ShardVerification() {}

  static void verify(Path dir, Manifest manifest) throws IOException {
    Path recordFile = dir.resolve(RECORD);
    Map<String, Seen> seen = read(recordFile);
    Map<String, Seen> now = new LinkedHashMap<>();
    long hashed = 0;
    long t0 = System.nanoTime();
    for (Split split : Split.values()) {
      for (Manifest.ShardEntry shard : manifest.split(split).shards()) {
        Path file = dir.resolve(shard.file());
        long size = Files.size(file);
        long modified = Files.getLastModifiedTime(file).toMillis();
        Seen before = seen.get(shard.file());
        if (before != null && before.size() == size && before.modifiedMillis() == modified
            && before.sha256().equals(shard.sha256())) {
          now.put(shard.file(), before);
          continue;
        }
        String actual = sha256Hex(file);
        hashed += size;
        if (!actual.equals(shard.sha256())) {
          throw new IllegalArgumentException("shard " + file + " is corrupt: its SHA-256 is " + actual
              + " but the manifest says " + shard.sha256() + "; prepare the dataset again (orthoslice prepare-data)");
        }
        now.put(shard.file(), new Seen(size, modified, actual));
      }
    }
    if (hashed > 0) {
      LOG.info("verified {} MiB of shards against {} in {} ms", hashed >> 20, dir.resolve(PrepareData.MANIFEST),
          (System.nanoTime() - t0) / 1_000_000);
      write(dir, recordFile, now);
    }
  }

  private static Map<String, Seen> read(Path recordFile) {
    if (!Files.isRegularFile(recordFile)) {
      return Map.of();
    }
    try {
      return PrepareData.JSON.readValue(recordFile.toFile(), new TypeReference<LinkedHashMap<String, Seen>>() {});
    } catch (IOException e) {
      return Map.of(); // unreadable: check everything again, and write it anew
    }
  }

  private static void write(Path dir, Path recordFile, Map<String, Seen> seen) {
    try {
      Path tmp = Files.createTempFile(dir, ".verified", ".tmp");
      PrepareData.JSON.writeValue(tmp.toFile(), seen);
      try {
        Files.move(tmp, recordFile, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(tmp, recordFile, StandardCopyOption.REPLACE_EXISTING);
      }
    } catch (IOException e) {
      LOG.debug("could not record the shard check in {} ({}); every open checks again", recordFile, e.toString());
    }
  }

  static String sha256Hex(Path file) throws IOException {
    MessageDigest digest;
    try {
      digest = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
    try (InputStream in = new DigestInputStream(Files.newInputStream(file), digest)) {
      in.transferTo(OutputStream.nullOutputStream());
    }
    return HexFormat.of().formatHex(digest.digest());
  }
}
