package io.orthoslice.common.checkpoint;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.Stream;

/**
 * Publishing files and directories so that a crash leaves either the old state or the complete new
 * one, never a torn file: write to a temporary name in the same directory, fsync it, rename it into
 * place (rename(2) is atomic within a file system), then fsync the directory so that the rename
 * itself survives a power loss.
 *
 * <p>Temporary names carry {@link #TMP_MARKER} or {@link #DELETING_MARKER}; readers ignore such
 * entries and {@link #isLeftover} recognizes them for cleanup.
 */
public final class AtomicFiles {

  /** Marks a file or directory still being written. */
  public static final String TMP_MARKER = ".tmp-";

  /** Marks a directory being removed: it is renamed first so that it never looks complete. */
  public static final String DELETING_MARKER = ".deleting-";

  /** Writes a file's bytes to a channel. */
  @FunctionalInterface
  public interface Content {
    void writeTo(WritableByteChannel out) throws IOException;
  }

  /** Fills a fresh directory. */
  @FunctionalInterface
  public interface DirectoryContent {
    void writeInto(Path dir) throws IOException;
  }

  private AtomicFiles() {}

  /** Atomically creates or replaces {@code target} with what {@code content} writes. */
  public static void write(Path target, Content content) throws IOException {
    Path dir = parentOf(target);
    Path tmp = dir.resolve(target.getFileName() + TMP_MARKER + randomSuffix());
    try {
      try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
        content.writeTo(ch);
        ch.force(true);
      }
      Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
      fsyncDirectory(dir);
    } finally {
      Files.deleteIfExists(tmp);
    }
  }

  /** Atomically creates or replaces {@code target} with {@code bytes}. */
  public static void write(Path target, byte[] bytes) throws IOException {
    write(target, out -> {
      ByteBuffer b = ByteBuffer.wrap(bytes);
      while (b.hasRemaining()) {
        out.write(b);
      }
    });
  }

  /**
   * Builds {@code parent/name} in {@code parent/name.tmp-<random>}, fsyncs everything in it, and
   * renames it into place. Never replaces anything: an existing {@code parent/name} is a
   * FileAlreadyExistsException, and should one appear meanwhile, rename(2) refuses to replace a
   * non-empty directory. On failure the temporary directory is removed.
   */
  public static Path commitDirectory(Path parent, String name, DirectoryContent content) throws IOException {
    Files.createDirectories(parent);
    Path target = parent.resolve(name);
    if (Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
      throw new FileAlreadyExistsException(target.toString(), null, "refusing to overwrite it");
    }
    Path tmp = parent.resolve(name + TMP_MARKER + randomSuffix());
    Files.createDirectory(tmp);
    boolean committed = false;
    try {
      content.writeInto(tmp);
      fsyncTree(tmp);
      Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
      committed = true;
      fsyncDirectory(parent);
    } finally {
      if (!committed) {
        deleteTree(tmp);
      }
    }
    return target;
  }

  /**
   * Removes a directory tree so that a crash midway cannot leave a partial copy under its name:
   * it is first renamed to {@code <name>.deleting-<random>}, then deleted.
   */
  public static void removeDirectory(Path dir) throws IOException {
    Path parent = parentOf(dir);
    Path doomed = parent.resolve(dir.getFileName() + DELETING_MARKER + randomSuffix());
    Files.move(dir, doomed, StandardCopyOption.ATOMIC_MOVE);
    fsyncDirectory(parent);
    deleteTree(doomed);
  }

  /** Whether {@code p} is an unfinished write or removal left by an interrupted process. */
  public static boolean isLeftover(Path p) {
    String n = p.getFileName().toString();
    return n.contains(TMP_MARKER) || n.contains(DELETING_MARKER);
  }

  /** Deletes a tree without following symbolic links; a missing tree is not an error. */
  static void deleteTree(Path root) throws IOException {
    if (!Files.exists(root, LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    Files.walkFileTree(root, new SimpleFileVisitor<>() {
      @Override
      public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
        Files.delete(file);
        return FileVisitResult.CONTINUE;
      }

      @Override
      public FileVisitResult postVisitDirectory(Path d, IOException e) throws IOException {
        if (e != null) {
          throw e;
        }
        Files.delete(d);
        return FileVisitResult.CONTINUE;
      }
    });
  }

  /** Makes a directory's entries (creations, renames) durable. Linux allows fsync on a directory. */
  static void fsyncDirectory(Path dir) throws IOException {
    try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
      ch.force(true);
    }
  }

  private static void fsyncTree(Path root) throws IOException {
    List<Path> entries;
    try (Stream<Path> s = Files.walk(root)) {
      entries = s.toList();
    }
    for (Path p : entries) {
      if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
          ch.force(true);
        }
      }
    }
    // Children before parents, so each directory's entries are durable before it is published.
    for (int i = entries.size() - 1; i >= 0; i--) {
      if (Files.isDirectory(entries.get(i), LinkOption.NOFOLLOW_LINKS)) {
        fsyncDirectory(entries.get(i));
      }
    }
  }

  private static Path parentOf(Path p) {
    Path parent = p.toAbsolutePath().getParent();
    if (parent == null) {
      throw new IllegalArgumentException("path must have a parent directory, got " + p);
    }
    return parent;
  }

  private static String randomSuffix() {
    return Long.toHexString(ThreadLocalRandom.current().nextLong() & Long.MAX_VALUE);
  }
}
