package io.orthoslice.worker.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** prepare-data's help and flags as a user meets them; the formats themselves are tested in common. */
class PrepareDataCommandTest {

  @TempDir Path tmp;

  private record Run(int status, String out, String err) {}

  private static Run run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cl = OrthosliceCli.commandLine();
    cl.setOut(new PrintWriter(out));
    cl.setErr(new PrintWriter(err));
    int status = cl.execute(args);
    return new Run(status, out.toString(), err.toString().strip());
  }

  @Test
  void helpNamesEveryTokenizerSpecAndEveryInputFormat() {
    Run r = run("prepare-data", "--help");
    assertEquals(0, r.status());
    // Compared without white space, which the help's line wrapping moves.
    String help = r.out().replaceAll("\\s+", "");
    for (String word :
        List.of("'byte'", "'gpt2'", "'cl100k'", "tokenizer.json", "directory containing tokenizer.json",
            ".jsonl.zst", ".jsonl.gz", ".parquet", "--text-field", "Default: text", "--no-progress")) {
      assertTrue(help.contains(word.replace(" ", "")), "'" + word + "' missing from: " + r.out());
    }
  }

  @Test
  void textFieldPicksTheJsonlFieldAndTheSummaryNamesTheThroughput() throws Exception {
    Path jsonl = Files.writeString(tmp.resolve("a.jsonl"), "{\"id\": 1, \"content\": \"hello\"}\n");
    Run r = run("prepare-data", jsonl.toString(), "--text-field", "content", "--val-fraction", "0",
        "--output", tmp.resolve("out").toString());
    assertEquals(0, r.status(), r.err());
    assertTrue(r.out().contains("tokens/s") && r.out().contains("train 6 tokens (1 documents)"), r.out());
    assertEquals("", r.err(), "no progress bar when stderr is not a terminal");
  }

  @Test
  void missingTextFieldGetsOneLineNamingTheFieldsThatExist() throws Exception {
    Path jsonl = Files.writeString(tmp.resolve("a.jsonl"), "{\"id\": 1, \"content\": \"hello\"}\n");
    Run r = run("prepare-data", jsonl.toString(), "--output", tmp.resolve("out").toString());
    assertEquals(2, r.status());
    assertEquals("error: " + jsonl + ":1: no field \"text\"; the object's fields are [id, content];"
        + " choose one with --text-field", r.err());
  }
}
