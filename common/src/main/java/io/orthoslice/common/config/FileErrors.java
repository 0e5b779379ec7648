package io.orthoslice.common.config;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.util.Optional;

/**
 * The one line a command prints for a failed file operation (a missing, corrupt, unreadable or
 * unwritable file, a full disk), instead of a stack trace: the files' own messages already name
 * the file and what is wrong with it (checkpoint checksums, config.json fields, shard hashes).
 */
public final class FileErrors {

  private FileErrors() {}

  /** The line for {@code e} when it is (or wraps) an I/O failure, else empty. */
  public static Optional<String> line(Throwable e) {
    Throwable t = e;
    while (t instanceof UncheckedIOException && t.getCause() != null) {
      t = t.getCause();
    }
    if (!(t instanceof IOException io)) {
      return Optional.empty();
    }
    if (io instanceof NoSuchFileException f) {
      return Optional.of("no such file or directory: " + f.getFile());
    }
    if (io instanceof AccessDeniedException f) {
      return Optional.of("permission denied: " + f.getFile());
    }
    if (io instanceof FileSystemException f) { // "path: No space left on device", "path: Read-only file system"
      return Optional.of(f.getMessage());
    }
    String msg = io.getMessage();
    return Optional.of(msg == null || msg.isBlank() ? io.getClass().getSimpleName() : msg.lines().findFirst().orElse(""));
  }
}
