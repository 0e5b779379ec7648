package io.orthoslice.common.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The loader's decisions on the CPU, where no kernels library is built (CI): the DJL path by
 * default, a one-line refusal for {@code native}, and the manifest check against the libtorch this
 * JVM really mapped (DJL's own 2.7.1), which refuses a library built for another before loading it.
 */
class KernelsTest {

  @TempDir Path dir;

  @AfterEach
  void backToDjl() {
    Kernels.configure(KernelChoice.DJL, dir.resolve("none"));
  }

  /** Without the library (CI): fine on the CPU, a one-line refusal on a GPU, where it is the only way to get there. */
  @Test
  void deterministicNeedsTheLibraryOnlyOnAGpu() {
    Kernels.configure(KernelChoice.AUTO, dir.resolve(Kernels.LIBRARY));
    assertEquals("deterministic: off (torch's defaults)", Kernels.deterministic(false, true));
    assertEquals("deterministic: the CPU's ops are deterministic already (no native library needed)",
        Kernels.deterministic(true, false));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Kernels.deterministic(true, true));
    assertEquals("--deterministic on a GPU needs the native kernels library, which switches torch's deterministic"
        + " algorithms on (djl is running): build it with common/src/main/cpp/build.sh and run with --kernels native",
        e.getMessage());
  }

  @Test
  void autoWithoutALibraryRunsTheDjlPath() {
    String line = Kernels.configure(KernelChoice.AUTO, dir.resolve(Kernels.LIBRARY));
    assertTrue(line.startsWith("kernels: djl (native kernels not used: none installed at "), line);
    assertEquals("djl", Kernels.describe());
    assertFalse(Kernels.attention() || Kernels.rmsNorm() || Kernels.adamw());
  }

  @Test
  void nativeWithoutALibraryIsOneLineNamingTheBuildScript() {
    Path lib = dir.resolve(Kernels.LIBRARY);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Kernels.configure(KernelChoice.NATIVE, lib));
    assertEquals("--kernels native: " + lib + " does not exist (build it with common/src/main/cpp/build.sh, or set "
        + "ORTHOSLICE_KERNELS_LIB)", e.getMessage());
  }

  @Test
  void aLibraryBuiltForAnotherLibtorchIsRefusedBeforeItLoads() throws Exception {
    Engine.getInstance();
    Path loaded = LoadedLibtorch.find().orElseThrow(() -> new AssertionError("no libtorch_cpu.so mapped"));
    Path lib = dir.resolve(Kernels.LIBRARY);
    Files.writeString(lib, "not an ELF file: loading it would fail, refusing it must come first");
    Files.writeString(dir.resolve(Kernels.MANIFEST), "{\"kernels_api\": " + Kernels.API
        + ", \"torch_version\": \"2.11.0\", \"libtorch_cpu\": \"/opt/torch/lib/libtorch_cpu.so\","
        + " \"libtorch_cpu_bytes\": " + (Files.size(loaded) + 1) + "}");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Kernels.configure(KernelChoice.NATIVE, lib));
    String msg = e.getMessage();
    assertFalse(msg.contains("\n"), msg);
    assertTrue(msg.startsWith("--kernels native: " + lib + " is built for torch 2.11.0 (/opt/torch/lib/libtorch_cpu.so, "
        + (Files.size(loaded) + 1) + " bytes), but DJL loaded " + loaded), msg);
    assertTrue(msg.endsWith(", or run with --kernels djl"), msg);

    String auto = Kernels.configure(KernelChoice.AUTO, lib); // auto says so and runs the DJL path
    assertTrue(auto.startsWith("kernels: djl (native kernels not used: " + lib + " is built for torch 2.11.0"), auto);
    assertEquals("djl", Kernels.describe());
  }

  @Test
  void aLibraryWithoutItsManifestIsRefused() throws Exception {
    Path lib = dir.resolve(Kernels.LIBRARY);
    Files.writeString(lib, "x");
    String msg = assertThrows(IllegalArgumentException.class, () -> Kernels.configure(KernelChoice.NATIVE, lib))
        .getMessage();
    assertTrue(msg.startsWith("--kernels native: no readable manifest " + dir.resolve(Kernels.MANIFEST)), msg);
    Files.writeString(dir.resolve(Kernels.MANIFEST), "{\"torch_version\": \"2.11.0\"}");
    msg = assertThrows(IllegalArgumentException.class, () -> Kernels.configure(KernelChoice.NATIVE, lib)).getMessage();
    assertTrue(msg.contains("lacks libtorch_cpu_bytes"), msg);
  }

  @Test
  void aLibraryOfAnotherKernelsApiIsRefusedBeforeItLoads() throws Exception {
    Engine.getInstance();
    Path loaded = LoadedLibtorch.find().orElseThrow(() -> new AssertionError("no libtorch_cpu.so mapped"));
    Path lib = dir.resolve(Kernels.LIBRARY);
    Files.writeString(lib, "not an ELF file");
    // An older build.sh wrote no kernels_api (api 1): right libtorch, but entry points missing.
    Files.writeString(dir.resolve(Kernels.MANIFEST), "{\"torch_version\": \"2.7.1\", \"libtorch_cpu\": \""
        + loaded + "\", \"libtorch_cpu_bytes\": " + Files.size(loaded) + "}");
    String msg = assertThrows(IllegalArgumentException.class, () -> Kernels.configure(KernelChoice.NATIVE, lib))
        .getMessage();
    assertEquals("--kernels native: " + lib + " offers kernels api 1, this Orthoslice calls api " + Kernels.API
        + ": rebuild it with common/src/main/cpp/build.sh, or run with --kernels djl", msg);
  }

  @Test
  void theLoadedLibtorchIsReadFromTheMemoryMaps() {
    assertEquals(Optional.of(Path.of("/x/torch/lib/libtorch_cpu.so")), LoadedLibtorch.find(List.of(
        "7f00-7f01 r--p 00000000 08:01 1 /usr/lib/libc.so.6",
        "7f02-7f03 r-xp 00001000 08:01 2 /x/torch/lib/libtorch_cpu.so",
        "7f04-7f05 rw-p 00000000 00:00 0 [heap]")));
    assertEquals(Optional.empty(), LoadedLibtorch.find(List.of("7f04-7f05 rw-p 00000000 00:00 0 [heap]",
        "7f02-7f03 r-xp 00001000 08:01 2 /x/torch/lib/libtorch_cuda.so")));
  }

  @Test
  void choicesAndOpsAreCheckedWithTheAllowedValues() {
    assertEquals(KernelChoice.NATIVE, KernelChoice.parse(" Native"));
    assertEquals("unknown --kernels 'cuda'; allowed: auto, native, djl",
        assertThrows(IllegalArgumentException.class, () -> KernelChoice.parse("cuda")).getMessage());
    assertEquals(java.util.EnumSet.of(Kernels.Op.ATTENTION, Kernels.Op.ADAMW), Kernels.ops("adamw, attention,"));
    assertEquals("unknown op 'flash' in -Dorthoslice.kernels.ops; allowed: attention, rmsnorm, adamw, adapter, swiglu,"
        + " rope, rmsnorm-residual",
        assertThrows(IllegalArgumentException.class, () -> Kernels.ops("attention,flash")).getMessage());
    assertEquals(java.util.EnumSet.of(Kernels.Op.RMSNORM, Kernels.Op.RMSNORM_RESIDUAL, Kernels.Op.ROPE),
        Kernels.ops("rmsnorm,rmsnorm-residual,ROPE"));
  }

  @Test
  void aLibraryWithoutItsCudaKernelsRunsTheOtherOpsAndSaysWhy() {
    java.util.EnumSet<Kernels.Op> all = java.util.EnumSet.allOf(Kernels.Op.class);
    assertEquals(all, Kernels.usable(all, true));
    assertEquals(java.util.EnumSet.of(Kernels.Op.ATTENTION, Kernels.Op.RMSNORM, Kernels.Op.ADAMW, Kernels.Op.ADAPTER,
        Kernels.Op.SWIGLU), Kernels.usable(all, false));
    assertEquals("", Kernels.withoutCuda(all, true));
    assertEquals("", Kernels.withoutCuda(java.util.EnumSet.of(Kernels.Op.ADAMW), false));
    assertEquals(" (rope, rmsnorm-residual: DJL path, the library was built without its CUDA kernels;"
        + " common/src/main/cpp/build.sh builds them where nvcc is)", Kernels.withoutCuda(all, false));
  }
}
