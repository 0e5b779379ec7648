package io.orthoslice.common.data;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;

/** Streams the documents of a {@link CorpusSource}, one line at a time. */
final class DocumentReader {

  /** Receives each non-blank document in file order. */
  @FunctionalInterface
  interface DocumentSink {
    void accept(String document) throws IOException;
  }

  private static final ObjectMapper JSON = new ObjectMapper();

  private DocumentReader() {}

  /** Feeds every non-blank document of {@code source} to {@code sink}; returns lines read. */
  static long read(CorpusSource source, DocumentSink sink) throws IOException {
    long lineNumber = 0;
    try (BufferedReader lines =
        new BufferedReader(
            new InputStreamReader(source.openDecoded(), StandardCharsets.UTF_8), 1 << 16)) {
      String line;
      while ((line = lines.readLine()) != null) {
        lineNumber++;
        if (line.isBlank()) {
          continue;
        }
        String document =
            switch (source.format()) {
              case TEXT -> line;
              case JSONL -> jsonText(line, source.name(), lineNumber);
              case LINE_DOCS -> lineDocBody(line, source.name(), lineNumber);
            };
        if (!document.isBlank()) {
          sink.accept(document);
        }
      }
    }
    return lineNumber;
  }

  private static String jsonText(String line, String file, long lineNumber) {
    JsonNode node;
    try {
      node = JSON.readTree(line);
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException(
          file
              + ":"
              + lineNumber
              + ": not valid JSON; each JSONL line must be an object like {\"text\": \"...\"}");
    }
    JsonNode text = node == null ? null : node.get("text");
    if (text == null || !text.isTextual()) {
      throw new IllegalArgumentException(
          file
              + ":"
              + lineNumber
              + ": no string field \"text\"; each JSONL line must be an object like {\"text\":"
              + " \"...\"}");
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
}
