package io.orthoslice.common.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TorchRuntimeTest {

  @Test
  void theEngineThatRunsTheTestsPassesTheCheck() {
    TorchRuntime.check(Device.cpu());
  }

  @Test
  void aMismatchNamesTheLibtorchFoundAndTheFixInOneLine(@TempDir Path dir) throws Exception {
    Path lib = Files.createDirectories(dir.resolve("torch").resolve("lib"));
    Files.writeString(dir.resolve("torch").resolve("version.py"), "__version__ = '2.11.0+cu130'\ngit_version = 'x'\n");
    String line = TorchRuntime.diagnosis(new IllegalStateException(
        "Cannot access data pointer of Tensor that doesn't have storage\n  at c10::..."), lib.toString());
    assertEquals(1, line.lines().count(), line);
    assertTrue(line.contains("Cannot access data pointer of Tensor that doesn't have storage"), line);
    assertTrue(line.contains("libtorch 2.11.0+cu130 from PYTORCH_LIBRARY_PATH=" + lib), line);
    assertTrue(line.contains("built for libtorch 2.7.1") && line.contains("deploy/gpu/build-djl-bridge.sh"), line);
  }

  @Test
  void aLibtorchArchiveIsRecognisedByItsBuildVersion(@TempDir Path dir) throws Exception {
    Path lib = Files.createDirectories(dir.resolve("libtorch").resolve("lib"));
    Files.writeString(dir.resolve("libtorch").resolve("build-version"), "2.8.0+cu128\n");
    assertEquals("2.8.0+cu128", TorchRuntime.installedVersion(lib).orElseThrow());
    assertTrue(TorchRuntime.installedVersion(dir).isEmpty());
  }
}
