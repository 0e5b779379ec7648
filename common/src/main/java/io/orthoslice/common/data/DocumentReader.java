package io.orthoslice.common.data;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystemException;
import java.util.ArrayList;
import java.util.List;
import java.util.function.LongConsumer;

/** Streams the documents of a {@link CorpusSource}: a line at a time, or a Parquet row group. */
final class DocumentReader {

  /** Receives each non-blank document in file order. */
  @FunctionalInterface
  interface DocumentSink {
    void accept(String document) throws IOException;
  }

  private static final ObjectMapper JSON = new ObjectMapper();

  private DocumentReader() {}

  /**
   * Feeds every non-blank document of {@code source} to {@code sink}; {@code textField} names the
   * document's field of a JSONL object or column of a Parquet file. Reports the input's bytes as
   * stored (compressed) to {@code bytesRead} as they are consumed.
   */
  static void read(
      CorpusSource source, String textField, DocumentSink sink, LongConsumer bytesRead)
      throws IOException {
    if (source.format() == CorpusSource.Format.PARQUET) {
      // In its own class so that Parquet is loaded only when a Parquet file is read.
      ParquetDocuments.read(source, textField, sink, bytesRead);
      return;
    }
    long lineNumber = 0;
    try (BufferedReader lines =
        new BufferedReader(
            new InputStreamReader(
                source.decode(new CountingInputStream(source.opener().open(), bytesRead)),
                StandardCharsets.UTF_8),
            1 << 16)) {
      String line;
      while ((line = readLine(lines, source)) != null) {
        lineNumber++;
        if (line.isBlank()) {
          continue;
        }
        String document =
            switch (source.format()) {
              case TEXT -> line;
              case JSONL -> jsonText(line, textField, source.name(), lineNumber);
              case LINE_DOCS -> lineDocBody(line, source.name(), lineNumber);
              case PARQUET -> throw new IllegalStateException("Parquet is not a line format");
            };
        if (!document.isBlank()) {
          sink.accept(document);
        }
      }
    }
  }

  /** A line, or an error naming the file when its bytes cannot be decompressed. */
  private static String readLine(BufferedReader lines, CorpusSource source) throws IOException {
    try {
      return lines.readLine();
    } catch (FileSystemException e) {
      throw e;
    } catch (IOException e) {
      if (source.compression() == CorpusSource.Compression.NONE) {
        throw e;
      }
      // gzip and zstd name neither the file nor their format ("Unknown frame descriptor").
      throw new IOException(
          source.name()
              + ": cannot decompress ("
              + source.compression().name().toLowerCase(java.util.Locale.ROOT)
              + "): "
              + e.getMessage(),
          e);
    }
  }

  private static String jsonText(String line, String field, String file, long lineNumber) {
    JsonNode node;
    try {
      node = JSON.readTree(line);
    } catch (JsonProcessingException e) {
      node = null;
    }
    if (node == null || !node.isObject()) {
      throw new IllegalArgumentException(
          file
              + ":"
              + lineNumber
              + ": not a JSON object; each JSONL line must be an object like {\""
              + field
              + "\": \"...\"}");
    }
    JsonNode text = node.get(field);
    if (text == null) {
      List<String> fields = new ArrayList<>();
      node.fieldNames().forEachRemaining(fields::add);
      throw new IllegalArgumentException(
          file
              + ":"
              + lineNumber
              + ": no field \""
              + field
              + "\"; the object's fields are "
              + fields
              + "; choose one with --text-field");
    }
    if (!text.isTextual()) {
      throw new IllegalArgumentException(
          file
              + ":"
              + lineNumber
              + ": field \""
              + field
              + "\" is "
              + text.getNodeType().name().toLowerCase(java.util.Locale.ROOT)
              + ", not a string; choose a string field with --text-field");
    }
    return text.asText();
  }

  private static String lineDocBody(String line, String file, long lineNumber) {
    int titleEnd = line.indexOf('\t');
    int dateEnd = titleEnd < 0 ? -1 : line.indexOf('\t', titleEnd + 1);
    if (dateEnd < 0) {
      throw new IllegalArgumentException(
          file + ":" + lineNumber + ": line-docs lines must be title<TAB>date<TAB>body");
    }
    return line.substring(dateEnd + 1);
  }

  /** Reports the bytes read through it, before decompression, for the progress bar. */
  private static final class CountingInputStream extends FilterInputStream {
    private final LongConsumer bytesRead;

    CountingInputStream(InputStream in, LongConsumer bytesRead) {
      super(in);
      this.bytesRead = bytesRead;
    }

    @Override
    public int read() throws IOException {
      int b = super.read();
      if (b >= 0) {
        bytesRead.accept(1);
      }
      return b;
    }

    @Override
    public int read(byte[] buf, int off, int len) throws IOException {
      int n = super.read(buf, off, len);
      if (n > 0) {
        bytesRead.accept(n);
      }
      return n;
    }

    @Override
    public long skip(long n) throws IOException {
      long skipped = super.skip(n);
      bytesRead.accept(skipped);
      return skipped;
    }
  }
}
