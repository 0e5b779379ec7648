package io.orthoslice.worker.sweep;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A named section of a Markdown file that a sweep owns: the text between {@code <!-- sweep:NAME -->}
 * and {@code <!-- /sweep:NAME -->} is replaced, everything else is kept; a file without the section
 * gets it appended.
 */
public final class ResultsDoc {

  private ResultsDoc() {}

  public static void replaceSection(Path file, String name, String body) throws IOException {
    if (!name.matches("[A-Za-z0-9._-]+")) {
      throw new IllegalArgumentException("--section must be letters, digits, '.', '_' or '-', got '" + name + "'");
    }
    String open = "<!-- sweep:" + name + " -->";
    String close = "<!-- /sweep:" + name + " -->";
    String text = Files.isRegularFile(file) ? Files.readString(file, StandardCharsets.UTF_8) : "";
    String block = open + "\n" + body.stripTrailing() + "\n" + close;
    int a = text.indexOf(open);
    int b = text.indexOf(close);
    String out;
    if (a >= 0 && b > a) {
      out = text.substring(0, a) + block + text.substring(b + close.length());
    } else if (a >= 0 || b >= 0) {
      throw new IllegalArgumentException(file + " has only one of " + open + " and " + close + "; fix it by hand");
    } else {
      out = text + (text.isEmpty() || text.endsWith("\n\n") ? "" : text.endsWith("\n") ? "\n" : "\n\n") + block + "\n";
    }
    Path parent = file.toAbsolutePath().getParent();
    Files.createDirectories(parent);
    Path tmp = Files.createTempFile(parent, ".results", ".md");
    Files.writeString(tmp, out, StandardCharsets.UTF_8);
    Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
  }
}
