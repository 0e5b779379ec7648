package io.orthoslice.common.data;

import com.fasterxml.jackson.core.JsonProcessingException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * Contents of a prepared dataset's {@code manifest.json}: everything needed to read the shards and
 * to know what produced them. Written by {@link PrepareData}, checked by {@link TokenDataset}.
 *
 * @param splitRule how documents were assigned to splits, in words, so the split is reproducible
 */
public record Manifest(
    int formatVersion,
    String tokenizerId,
    int vocabSize,
    int eosId,
    int bosId,
    String dtype,
    double valFraction,
    String splitRule,
    List<String> sources,
    SplitEntry train,
    SplitEntry validation) {

  /** The version this code writes and reads; bump it when the layout changes. */
  public static final int FORMAT_VERSION = 1;

  public Manifest {
    Objects.requireNonNull(tokenizerId, "tokenizerId");
    Objects.requireNonNull(dtype, "dtype");
    Objects.requireNonNull(train, "train");
    Objects.requireNonNull(validation, "validation");
    sources = List.copyOf(sources);
    if (vocabSize <= 0) {
      throw new IllegalArgumentException("vocabSize must be positive, got " + vocabSize);
    }
    if (eosId < 0 || eosId >= vocabSize || bosId < 0 || bosId >= vocabSize) {
      throw new IllegalArgumentException(
          "eosId "
              + eosId
              + " and bosId "
              + bosId
              + " must be in [0, vocabSize "
              + vocabSize
              + ")");
    }
  }

  /**
   * The manifest of the prepared dataset in {@code dir}, checked: present, well-formed, and of this
   * build's format version.
   *
   * @throws IllegalArgumentException naming what is wrong with it
   */
  public static Manifest read(Path dir) throws IOException {
    return parse(dir.resolve(PrepareData.MANIFEST), bytes(dir));
  }

  /** The raw bytes of {@code dir}'s manifest.json. */
  static byte[] bytes(Path dir) throws IOException {
    Path file = dir.resolve(PrepareData.MANIFEST);
    if (!Files.isRegularFile(file)) {
      throw new IllegalArgumentException(
          dir + " is not a prepared dataset: " + PrepareData.MANIFEST + " is missing");
    }
    return Files.readAllBytes(file);
  }

  /** {@code bytes} (read from {@code file}) as a manifest of this build's format version. */
  static Manifest parse(Path file, byte[] bytes) throws IOException {
    Manifest manifest;
    try {
      manifest = PrepareData.JSON.readValue(bytes, Manifest.class);
    } catch (JsonProcessingException e) {
      // A record's own validation (say, a shard name with a path in it) says best what is wrong.
      String reason =
          e.getCause() instanceof IllegalArgumentException invalid
              ? invalid.getMessage()
              : e.getOriginalMessage().lines().findFirst().orElse("");
      throw new IllegalArgumentException("manifest " + file + " is invalid: " + reason);
    }
    if (manifest.formatVersion() != FORMAT_VERSION) {
      throw new IllegalArgumentException(
          "manifest "
              + file
              + " has format version "
              + manifest.formatVersion()
              + "; this build reads version "
              + FORMAT_VERSION);
    }
    return manifest;
  }

  /** The entry of {@code split}. */
  public SplitEntry split(Split split) {
    return split == Split.TRAIN ? train : validation;
  }

  /** One split: its shards in stream order. */
  public record SplitEntry(long tokens, long documents, List<ShardEntry> shards) {
    public SplitEntry {
      shards = List.copyOf(shards);
      if (tokens < 0 || documents < 0) {
        throw new IllegalArgumentException("split tokens and documents must be >= 0");
      }
      long sum = shards.stream().mapToLong(ShardEntry::tokens).sum();
      if (sum != tokens) {
        throw new IllegalArgumentException(
            "split tokens " + tokens + " must equal the sum of its shard tokens " + sum);
      }
    }
  }

  /**
   * One shard file.
   *
   * @param file a bare file name inside the dataset directory
   * @param sha256 lower-case hex SHA-256 of the file's bytes
   */
  public record ShardEntry(String file, long tokens, String sha256) {
    public ShardEntry {
      Objects.requireNonNull(file, "file");
      Objects.requireNonNull(sha256, "sha256");
      // A manifest must not point outside its own directory.
      if (!file.matches("[A-Za-z0-9._-]+") || file.startsWith(".")) {
        throw new IllegalArgumentException("shard file '" + file + "' must be a plain file name");
      }
      if (tokens <= 0) {
        throw new IllegalArgumentException(
            "shard " + file + " tokens must be positive, got " + tokens);
      }
    }
  }
}
