package io.orthoslice.common.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AtomicFilesTest {

  @TempDir Path tmp;

  private List<String> entries(Path dir) throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  @Test
  void writeReplacesTheFileAndLeavesNoTemporary() throws IOException {
    Path f = tmp.resolve("a.json");
    AtomicFiles.write(f, "old".getBytes(StandardCharsets.UTF_8));
    AtomicFiles.write(f, "new".getBytes(StandardCharsets.UTF_8));
    assertEquals("new", Files.readString(f));
    assertEquals(List.of("a.json"), entries(tmp));
  }

  @Test
  void failedWriteKeepsTheOldContent() throws IOException {
    Path f = tmp.resolve("a.json");
    AtomicFiles.write(f, "old".getBytes(StandardCharsets.UTF_8));
    assertThrows(IOException.class, () -> AtomicFiles.write(f, out -> {
      out.write(ByteBuffer.wrap("half".getBytes(StandardCharsets.UTF_8)));
      throw new IOException("disk full");
    }));
    assertEquals("old", Files.readString(f));
    assertEquals(List.of("a.json"), entries(tmp));
  }

  @Test
  void committedDirectoryAppearsWithItsFiles() throws IOException {
    Path d = AtomicFiles.commitDirectory(tmp.resolve("root"), "ck", dir -> Files.writeString(dir.resolve("x"), "1"));
    assertEquals(tmp.resolve("root").resolve("ck"), d);
    assertEquals("1", Files.readString(d.resolve("x")));
    assertEquals(List.of("ck"), entries(tmp.resolve("root")));
  }

  @Test
  void commitRefusesAnExistingNameAndKeepsIt() throws IOException {
    Path d = AtomicFiles.commitDirectory(tmp, "ck", dir -> Files.writeString(dir.resolve("x"), "1"));
    assertThrows(FileAlreadyExistsException.class,
        () -> AtomicFiles.commitDirectory(tmp, "ck", dir -> Files.writeString(dir.resolve("x"), "2")));
    assertArrayEquals("1".getBytes(StandardCharsets.UTF_8), Files.readAllBytes(d.resolve("x")));
    assertEquals(List.of("ck"), entries(tmp));
  }

  @Test
  void failedCommitLeavesNoDirectory() throws IOException {
    assertThrows(IOException.class, () -> AtomicFiles.commitDirectory(tmp, "ck", dir -> {
      Files.writeString(dir.resolve("x"), "1");
      throw new IOException("crash");
    }));
    assertEquals(List.of(), entries(tmp));
  }

  @Test
  void removeDirectoryDeletesTheTree() throws IOException {
    Path d = AtomicFiles.commitDirectory(tmp, "ck", dir -> {
      Files.createDirectory(dir.resolve("sub"));
      Files.writeString(dir.resolve("sub").resolve("x"), "1");
    });
    AtomicFiles.removeDirectory(d);
    assertEquals(List.of(), entries(tmp));
  }

  @Test
  void temporaryAndDeletingNamesAreLeftovers() {
    assertTrue(AtomicFiles.isLeftover(Path.of("step-00000010.tmp-1f")));
    assertTrue(AtomicFiles.isLeftover(Path.of("step-00000010.deleting-1f")));
    assertTrue(!AtomicFiles.isLeftover(Path.of("step-00000010")));
  }
}
