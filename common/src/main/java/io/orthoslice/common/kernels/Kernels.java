package io.orthoslice.common.kernels;

import ai.djl.engine.Engine;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.orthoslice.common.tensor.TorchRuntime;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.Locale;
import java.util.Optional;

/**
 * Which implementation this process runs for attention, RMSNorm, the AdamW step, an adapter's
 * effective weight, SwiGLU's gated product, the rotary embedding and RMSNorm with its residual add:
 * DJL's own ops (the reference, always there) or Orthoslice's native kernels
 * (liborthoslice_kernels.so, built by common/src/main/cpp/build.sh against the libtorch DJL loads).
 * Chosen once at start by {@code --kernels}; the model and the optimizer ask {@link #attention()},
 * {@link #rmsNorm()}, {@link #adamw()}, {@link #adapterWeight()}, {@link #swiGlu()}, {@link #rope()},
 * {@link #rmsNormResidual()}. The last two are CUDA kernels of our own, in the library only where
 * build.sh found a CUDA compiler ({@link #CUDA_OPS}); a library without them runs the others.
 *
 * <p>The library is trusted only for the libtorch it was built against: build.sh writes
 * liborthoslice_kernels.json beside it (torch version, path and size of libtorch_cpu.so), and the
 * loader compares that with the libtorch_cpu.so this process has mapped before it loads anything. A
 * C++ library linked against another libtorch would load and then crash or corrupt memory.
 */
public final class Kernels {

  public enum Op { ATTENTION, RMSNORM, ADAMW, ADAPTER, SWIGLU, ROPE, RMSNORM_RESIDUAL }

  /** The ops that are CUDA kernels of our own: in the library only when it was built with nvcc. */
  public static final java.util.Set<Op> CUDA_OPS =
      java.util.Collections.unmodifiableSet(EnumSet.of(Op.ROPE, Op.RMSNORM_RESIDUAL));

  public static final String LIBRARY = "liborthoslice_kernels.so";
  public static final String MANIFEST = "liborthoslice_kernels.json";
  /**
   * The entry points this code calls, as numbered by ORTHOSLICE_KERNELS_API in orthoslice_kernels.cpp
   * (build.sh writes it into the manifest; a manifest without it is api 1). A library of another
   * number would fail with an UnsatisfiedLinkError in the middle of a step, so it is refused at start.
   */
  public static final int API = 9;
  /** The library's path, when not in the default place. */
  public static final String LIBRARY_ENV = "ORTHOSLICE_KERNELS_LIB";
  /**
   * Diagnostics: the native ops to use, a comma list of attention, rmsnorm, adamw, adapter, swiglu, rope,
   * rmsnorm-residual (default all).
   */
  public static final String OPS_PROPERTY = "orthoslice.kernels.ops";
  static final String BUILD = "common/src/main/cpp/build.sh";

  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(Kernels.class);
  private static volatile EnumSet<Op> active = EnumSet.noneOf(Op.class);
  private static Path loaded; // a JVM loads a native library once; guarded by the class

  private Kernels() {}

  public static boolean attention() {
    return active.contains(Op.ATTENTION);
  }

  public static boolean rmsNorm() {
    return active.contains(Op.RMSNORM);
  }

  public static boolean adamw() {
    return active.contains(Op.ADAMW);
  }

  /** The adapter's effective weight {@code W + alpha B P^T} as one native addmm. */
  public static boolean adapterWeight() {
    return active.contains(Op.ADAPTER);
  }

  /** SwiGLU's {@code silu(gate) * up} through at::silu: one tensor fewer saved, half the kernels. */
  public static boolean swiGlu() {
    return active.contains(Op.SWIGLU);
  }

  /**
   * The rotary embedding on q and k in one CUDA kernel each way (forward, and the transposed rotation
   * backward). Only for tensors on a GPU: the caller checks the device.
   */
  public static boolean rope() {
    return active.contains(Op.ROPE);
  }

  /**
   * {@code rmsnorm(x + residual) * gain} and {@code x + residual} in one CUDA kernel each way. Only for
   * tensors on a GPU: the caller checks the device.
   */
  public static boolean rmsNormResidual() {
    return active.contains(Op.RMSNORM_RESIDUAL);
  }

  /** Whether liborthoslice_kernels.so is loaded in this process (its profiler then works). */
  public static synchronized boolean loaded() {
    return loaded != null;
  }

  /**
   * "djl", or "native" and the native ops in use, e.g.
   * "native[attention,rmsnorm,adamw,adapter,swiglu,rope,rmsnorm-residual]".
   */
  public static String describe() {
    EnumSet<Op> now = active;
    return now.isEmpty() ? "djl" : "native" + now.stream().map(Kernels::name)
        .collect(java.util.stream.Collectors.joining(",", "[", "]"));
  }

  /**
   * Applies {@code --kernels} for this process, with the library at {@link #defaultLibrary()}.
   *
   * @return one line saying which path runs (logged too)
   * @throws IllegalArgumentException for {@code native} when the library cannot be used, naming why
   */
  public static String configure(KernelChoice choice) {
    return configure(choice, defaultLibrary());
  }

  static synchronized String configure(KernelChoice choice, Path library) {
    if (choice == KernelChoice.DJL) {
      active = EnumSet.noneOf(Op.class);
      return "kernels: djl";
    }
    Optional<String> refusal = choice == KernelChoice.AUTO && !Files.exists(library)
        ? Optional.of("none installed at " + library)
        : load(library);
    if (refusal.isPresent()) {
      if (choice == KernelChoice.NATIVE) {
        throw new IllegalArgumentException("--kernels native: " + refusal.get());
      }
      active = EnumSet.noneOf(Op.class);
      String line = "kernels: djl (native kernels not used: " + refusal.get() + ")";
      if (Files.exists(library)) {
        LOG.warn(line); // installed but refused: say why, on every start
      } else {
        LOG.debug(line); // none installed (every CPU-only machine): nothing to say
      }
      return line;
    }
    EnumSet<Op> wanted = ops(System.getProperty(OPS_PROPERTY, names(",")));
    boolean cuda = NativeKernels.hasCudaKernels();
    active = usable(wanted, cuda);
    String line = "kernels: " + describe() + " from " + library + withoutCuda(wanted, cuda);
    LOG.info(line);
    return line;
  }

  /**
   * {@code --deterministic}: the same seed and data give the same bits on a GPU as they do on the CPU.
   * On a GPU it switches on torch's deterministic algorithms through the native library (flash
   * attention's backward otherwise adds with atomics in a different order each run); on the CPU, where
   * every op already is deterministic, nothing needs to change. {@code off} leaves torch's defaults.
   *
   * @param gpu whether this process computes on a GPU
   * @return one line saying what holds (logged too)
   * @throws IllegalArgumentException on a GPU without the library, saying why and what to do
   */
  public static synchronized String deterministic(boolean on, boolean gpu) {
    if (!on) {
      if (loaded()) {
        NativeKernels.deterministicAlgorithms(false);
      }
      return "deterministic: off (torch's defaults)";
    }
    String line;
    if (loaded()) {
      NativeKernels.deterministicAlgorithms(true);
      line = "deterministic: torch's deterministic algorithms on, from " + loaded;
    } else if (gpu) {
      throw new IllegalArgumentException("--deterministic on a GPU needs the native kernels library, which switches"
          + " torch's deterministic algorithms on (" + describe() + " is running): build it with"
          + " common/src/main/cpp/build.sh and run with --kernels native");
    } else {
      line = "deterministic: the CPU's ops are deterministic already (no native library needed)";
    }
    LOG.info(line);
    return line;
  }

  /** {@code $ORTHOSLICE_KERNELS_LIB}, else ~/.cache/orthoslice/kernels/liborthoslice_kernels.so. */
  public static Path defaultLibrary() {
    String env = System.getenv(LIBRARY_ENV);
    if (env != null && !env.isBlank()) {
      return Path.of(env);
    }
    return Path.of(System.getProperty("user.home"), ".cache", "orthoslice", "kernels", LIBRARY);
  }

  /** Loads the library after checking its manifest against the loaded libtorch; empty when loaded. */
  private static Optional<String> load(Path library) {
    Path lib = library.toAbsolutePath().normalize();
    if (lib.equals(loaded)) {
      return Optional.empty();
    }
    if (!Files.isRegularFile(lib)) {
      return Optional.of(lib + " does not exist (build it with " + BUILD + ", or set " + LIBRARY_ENV + ")");
    }
    Engine.getInstance(); // DJL loads its libtorch first: that is the one to compare with
    Optional<String> mismatch = checkBuiltFor(lib, LoadedLibtorch.find());
    if (mismatch.isPresent()) {
      return mismatch;
    }
    if (loaded != null) {
      return Optional.of("this process already loaded " + loaded + "; one kernels library per process");
    }
    try {
      System.load(lib.toString());
    } catch (UnsatisfiedLinkError e) {
      return Optional.of(lib + " does not load (" + firstLine(e) + "); rebuild it with " + BUILD);
    }
    loaded = lib;
    return Optional.empty();
  }

  /**
   * Why the library at {@code lib} must not be loaded into a process that mapped {@code libtorch}
   * (the path of its libtorch_cpu.so, empty when unknown), or empty when its manifest matches.
   */
  static Optional<String> checkBuiltFor(Path lib, Optional<Path> libtorch) {
    Path manifest = lib.resolveSibling(MANIFEST);
    JsonNode m;
    try {
      m = new ObjectMapper().readTree(manifest.toFile());
    } catch (IOException e) {
      return Optional.of("no readable manifest " + manifest + " beside the library (" + firstLine(e)
          + "); rebuild it with " + BUILD);
    }
    if (m == null || !m.path("libtorch_cpu_bytes").canConvertToLong()) {
      return Optional.of("manifest " + manifest + " lacks libtorch_cpu_bytes; rebuild with " + BUILD);
    }
    int api = m.path("kernels_api").asInt(1);
    if (api != API) {
      return Optional.of(lib + " offers kernels api " + api + ", this Orthoslice calls api " + API
          + ": rebuild it with " + BUILD + ", or run with --kernels djl");
    }
    String builtFor = "torch " + m.path("torch_version").asText("?") + " (" + m.path("libtorch_cpu").asText("?")
        + ", " + m.path("libtorch_cpu_bytes").asLong() + " bytes)";
    if (libtorch.isEmpty()) {
      return Optional.of(lib + " is built for " + builtFor + ", but this process has no libtorch_cpu.so mapped"
          + " that it could be checked against (Linux only)");
    }
    long size;
    try {
      size = Files.size(libtorch.get());
    } catch (IOException e) {
      return Optional.of("cannot read the loaded " + libtorch.get() + " (" + firstLine(e) + ")");
    }
    if (size != m.path("libtorch_cpu_bytes").asLong()) {
      String runtime = TorchRuntime.installedVersion(libtorch.get().getParent()).map(v -> "torch " + v + ", ")
          .orElse("");
      return Optional.of(lib + " is built for " + builtFor + ", but DJL loaded " + libtorch.get() + " (" + runtime
          + size + " bytes): rebuild it with " + BUILD + " --torch " + libtorch.get().getParent().getParent()
          + ", or run with --kernels djl");
    }
    return Optional.empty();
  }

  /** The wanted ops that a library with ({@code cudaKernels}) or without its CUDA kernels offers. */
  static EnumSet<Op> usable(EnumSet<Op> wanted, boolean cudaKernels) {
    EnumSet<Op> out = EnumSet.copyOf(wanted);
    if (!cudaKernels) {
      out.removeAll(CUDA_OPS);
    }
    return out;
  }

  /** "" or, when wanted CUDA ops are missing, the note that says why (for the start line). */
  static String withoutCuda(EnumSet<Op> wanted, boolean cudaKernels) {
    EnumSet<Op> missing = EnumSet.copyOf(wanted);
    missing.retainAll(CUDA_OPS);
    if (cudaKernels || missing.isEmpty()) {
      return "";
    }
    return " (" + missing.stream().map(Kernels::name).collect(java.util.stream.Collectors.joining(", "))
        + ": DJL path, the library was built without its CUDA kernels; " + BUILD + " builds them where nvcc is)";
  }

  static EnumSet<Op> ops(String list) {
    EnumSet<Op> out = EnumSet.noneOf(Op.class);
    for (String s : list.split(",")) {
      if (s.isBlank()) {
        continue;
      }
      try {
        out.add(Op.valueOf(s.trim().toUpperCase(Locale.ROOT).replace('-', '_')));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(
            "unknown op '" + s.trim() + "' in -D" + OPS_PROPERTY + "; allowed: " + names(", "));
      }
    }
    return out;
  }

  /** Every op's name, lower case, in declaration order: the default list and the allowed values. */
  private static String names(String separator) {
    return java.util.Arrays.stream(Op.values()).map(Kernels::name)
        .collect(java.util.stream.Collectors.joining(separator));
  }

  /** An op's name in flags and logs: lower case, words joined by '-' ("rmsnorm-residual"). */
  static String name(Op op) {
    return op.name().toLowerCase(Locale.ROOT).replace('_', '-');
  }

  private static String firstLine(Throwable e) {
    String msg = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    return msg.lines().findFirst().orElse("").trim();
  }
}
