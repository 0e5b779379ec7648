package io.orthoslice.common.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DefaultCorpusTest {

  @Test
  void concurrentCallersAllGetOneCompleteEuroparlDataset(@TempDir Path root) throws Exception {
    ByteTokenizer tok = new ByteTokenizer();
    List<Callable<Path>> callers = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      callers.add(() -> DefaultCorpus.ensurePrepared(root, tok));
    }
    ExecutorService pool = Executors.newFixedThreadPool(3);
    List<Path> dirs = new ArrayList<>();
    try {
      for (Future<Path> f : pool.invokeAll(callers)) {
        dirs.add(f.get());
      }
    } finally {
      pool.shutdownNow();
    }
    Path expected = root.resolve("datasets").resolve("europarl-byte");
    assertEquals(List.of(expected, expected, expected), dirs);
    try (Stream<Path> entries = Files.list(expected.getParent())) {
      assertEquals(List.of(expected), entries.toList()); // losers removed their copies
    }
    try (TokenDataset ds = TokenDataset.open(expected)) {
      Manifest m = ds.manifest();
      assertEquals(17_597, m.train().documents() + m.validation().documents());
      double valDocShare = m.validation().documents() / 17_597.0;
      assertTrue(valDocShare > 0.003 && valDocShare < 0.008, "validation share " + valDocShare);
      assertTrue(
          ds.tokens(Split.VALIDATION) >= 50_000,
          "validation tokens " + ds.tokens(Split.VALIDATION));
      assertEquals(
          m.train().tokens() + m.validation().tokens(),
          ds.tokens(Split.TRAIN) + ds.tokens(Split.VALIDATION));
      ds.verifyChecksums();
      // Every document ends in EOS, so the last token of each split is EOS.
      int[] last = new int[1];
      ds.read(Split.VALIDATION, ds.tokens(Split.VALIDATION) - 1, last, 0, 1);
      assertArrayEquals(new int[] {256}, last);
    }
    assertEquals(expected, DefaultCorpus.ensurePrepared(root, tok)); // already there: no work
  }
}
