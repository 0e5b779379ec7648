package io.orthoslice.worker.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code eval} of a run's checkpoint scores, by default, the windows the run validated on: the same loss. */
class EvalDefaultsTest {

  private static final Pattern LOSS = Pattern.compile("validation loss (\\d+\\.\\d+)");

  @Test
  void evalOfACheckpointReportsTheRunsOwnValidationLoss(@TempDir Path dir) {
    String train = stdout("train", "--preset", "tiny", "--steps", "4", "--seq-len", "32", "--batch-size", "2",
        "--eval-batches", "3", "--output", dir.toString());
    String eval = stdout("eval", dir.resolve("checkpoints").resolve("step-00000004").toString());
    assertTrue(eval.contains("(the run's validation windows: 3 batches x 2 x 32 tokens)"), eval);
    assertEquals(lastLoss(train), lastLoss(eval), train + "\n" + eval);
    // Given windows are the user's: another loss, and said so.
    String other = stdout("eval", dir.resolve("checkpoints").resolve("step-00000004").toString(), "--batches", "5");
    assertTrue(other.contains("(validation windows: 5 batches x 2 x 32 tokens)"), other);
  }

  private static String lastLoss(String text) {
    Matcher m = LOSS.matcher(text);
    String last = null;
    while (m.find()) {
      last = m.group(1);
    }
    assertTrue(last != null, text);
    return last;
  }

  private static String stdout(String... args) {
    PrintStream before = System.out;
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
    try {
      assertEquals(0, OrthosliceCli.execute(args), out.toString(StandardCharsets.UTF_8));
    } finally {
      System.setOut(before);
    }
    return out.toString(StandardCharsets.UTF_8);
  }
}
