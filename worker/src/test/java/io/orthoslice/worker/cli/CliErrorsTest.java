package io.orthoslice.worker.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import picocli.CommandLine;

/** Each kind of bad argument gets one line naming the problem and what is allowed, and exit status 2. */
class CliErrorsTest {

  @TempDir static Path tmp;

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
    "unknown option        | train --bogus 1                                   | Unknown option",
    "not a number          | train --steps many                                | Invalid value for option '--steps'",
    "unknown preset        | train --preset 7b --steps 1 --output OUT          | unknown preset '7b'; allowed: tiny, 20m, 60m, 130m, 350m, 1b",
    "bf16 refused          | train --dtype bf16 --output OUT                   | dtype bf16 is not available",
    "bad dtype             | train --dtype fp8 --output OUT                    | unknown dtype 'fp8'; allowed: fp32, fp16, fp64",
    "bad method            | train --method sgd --output OUT                   | unknown method 'sgd'; allowed: full|galore|adapter|lora|relora",
    "rank missing          | train --method adapter --output OUT               | --rank is required for method adapter",
    "rank too large        | train --method galore --rank 65 --steps 1 --output OUT | --rank 65 exceeds the projected side 64",
    "bad projection        | train --method galore --rank 4 --projection fft --steps 1 --output OUT | projection kind must be one of",
    "compare unknown row   | compare --methods lora,nope --steps 1 --output OUT | --methods: unknown row 'nope'; allowed: full-rank-adamw,",
    "bad policy            | train --state-on-redraw keep --output OUT         | unknown state-on-redraw 'keep'",
    "negative lr           | train --lr -1 --output OUT                        | lr must be > 0",
    "warmup past steps     | train --steps 10 --warmup 20 --output OUT          | warmup must be in [0, steps=10]",
    "bad device            | train --device tpu --steps 1 --output OUT         | unknown device 'tpu'; allowed: cpu, gpu, gpu:N",
    "bad kernels           | train --kernels cuda --steps 1 --output OUT       | unknown --kernels 'cuda'; allowed: auto, native, djl",
    "native kernels absent | train --kernels native --steps 1 --output OUT     | --kernels native: ",
    "resume nothing        | train --resume --steps 1 --output OUT             | --resume: no checkpoint in",
    "missing data dir      | train --data /nonexistent/data --output OUT       | --data /nonexistent/data is not a directory",
    "missing input file    | prepare-data /nonexistent.txt --output OUT2       | /nonexistent.txt",
    "eval not a checkpoint | eval /nonexistent                                 | has no config.json",
    "bad wire              | launch --wire int4 --run-dir OUT                  | wire precision must be one of f32, f16, int8, got 'int4'",
    "density on f32        | launch --wire-density 0.1 --run-dir OUT           | wire-density 0.1 needs --wire f16 or int8",
    "bad sweep wire        | sweep --wire f8 --rank 16 --output OUT            | wire precision must be one of f32, f16, int8, got 'f8'",
    "report no directory   | report OUT                                        | is not a directory; expected a launch --run-dir",
    "worker faster than 1x | worker --coordinator localhost:1 --token t --slow-down 0.5 | --slow-down must be >= 1, got 0.5",
  })
  void badArgumentGetsOneLineAndExitStatusTwo(String kind, String args, String expected) throws Exception {
    String out = tmp.resolve(kind.replace(' ', '-')).toString();
    String[] argv = args.trim().replace("OUT2", out + "-data").replace("OUT", out).split("\\s+");
    StringWriter err = new StringWriter();
    CommandLine cl = OrthosliceCli.commandLine();
    cl.setErr(new PrintWriter(err));
    cl.setOut(new PrintWriter(new StringWriter()));
    int status = cl.execute(argv);
    String text = err.toString().strip();
    assertEquals(2, status, kind + ": exit status; stderr was: " + text);
    assertTrue(text.startsWith("error: "), kind + ": " + text);
    assertTrue(text.contains(expected.trim()), kind + ": expected '" + expected.trim() + "' in: " + text);
    assertTrue(!text.contains("\tat "), kind + ": no stack trace: " + text);
    assertTrue(text.lines().count() <= 2, kind + ": one line (plus a --help hint): " + text);
  }

  /** The coordinator is a command of orthoslice too: listed, its arguments passed through, its exit status kept. */
  @org.junit.jupiter.api.Test
  void theCoordinatorIsListedAndRunsWithItsOwnArguments() {
    StringWriter help = new StringWriter();
    CommandLine cl = OrthosliceCli.commandLine();
    cl.setOut(new PrintWriter(help));
    assertEquals(0, cl.execute("--help"));
    assertTrue(help.toString().contains("  coordinator "), help.toString());
    assertEquals(0, OrthosliceCli.commandLine().execute("coordinator", "--help"));
    // The coordinator's own check of its arguments: one line, exit status 2, through the child JVM.
    assertEquals(2, OrthosliceCli.commandLine().execute("coordinator", "--rounds", "0", "--metrics-port", "-1",
        "--output", tmp.resolve("coordinator-zero-rounds").toString()));
  }

  /** One line, exit status 1, for a file that cannot be used; the files themselves are left as they were. */
  @org.junit.jupiter.api.Test
  void unusableFilesGetOneLine() throws Exception {
    Path run = tmp.resolve("file-errors");
    assertEquals(0, OrthosliceCli.commandLine().execute("train", "--steps", "2", "--output", run.toString()));
    Path ckpt = run.resolve("checkpoints").resolve("step-00000002");
    Path model = ckpt.resolve("model.safetensors");
    byte[] bytes = java.nio.file.Files.readAllBytes(model);
    bytes[bytes.length / 2] ^= 0x5a;
    java.nio.file.Files.write(model, bytes);
    Path empty = java.nio.file.Files.createDirectories(tmp.resolve("empty-model"));
    Path bert = java.nio.file.Files.createDirectories(tmp.resolve("bert-model"));
    java.nio.file.Files.writeString(bert.resolve("config.json"), "{\"model_type\": \"bert\", \"hidden_size\": 768}");
    String[][] cases = {
      {"eval " + ckpt, "model.safetensors is corrupt: SHA-256 "},
      {"train --steps 4 --resume --output " + run, "model.safetensors is corrupt: SHA-256 "},
      {"train --steps 1 --init-from " + empty + " --output " + tmp.resolve("r-empty"), empty.resolve("config.json") + " is missing"},
      {"train --steps 1 --init-from " + bert + " --output " + tmp.resolve("r-bert"), "model_type is 'bert'; only 'llama' is supported"},
    };
    for (String[] c : cases) {
      StringWriter err = new StringWriter();
      CommandLine cl = OrthosliceCli.commandLine();
      cl.setErr(new PrintWriter(err));
      cl.setOut(new PrintWriter(new StringWriter()));
      int status = cl.execute(c[0].split(" "));
      String text = err.toString().strip();
      assertEquals(1, status, c[0] + ": " + text);
      assertTrue(text.startsWith("error: ") && text.contains(c[1]) && text.lines().count() == 1, c[0] + ": " + text);
    }
    assertTrue(java.util.Arrays.equals(bytes, java.nio.file.Files.readAllBytes(model)), "the checkpoint was changed");
  }

  @org.junit.jupiter.api.Test
  void aCoordinatorsRefusalIsOneLine() {
    assertEquals("the coordinator refused this worker's run token (join: UNAUTHENTICATED: wrong run token); give the"
        + " worker the coordinator's token with --token or $ORTHOSLICE_TOKEN", OrthosliceCli.refusal(
            io.orthoslice.worker.CoordinatorClient.translate("join",
                io.grpc.Status.UNAUTHENTICATED.withDescription("wrong run token").asRuntimeException())).orElseThrow());
    assertEquals("the coordinator refused a request (join: FAILED_PRECONDITION: protocol 2, this coordinator speaks 3)",
        OrthosliceCli.refusal(io.orthoslice.worker.CoordinatorClient.translate("join", io.grpc.Status.FAILED_PRECONDITION
            .withDescription("protocol 2, this coordinator speaks 3").asRuntimeException())).orElseThrow());
    // What the round loop acts on itself is no refusal: a lost coordinator, a stale round.
    assertTrue(OrthosliceCli.refusal(io.orthoslice.worker.CoordinatorClient.translate("submit",
        io.grpc.Status.NOT_FOUND.asRuntimeException())).isEmpty());
    assertTrue(OrthosliceCli.refusal(new IllegalStateException("x")).isEmpty());
  }
}
