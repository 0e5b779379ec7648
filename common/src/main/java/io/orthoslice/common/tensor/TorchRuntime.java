package io.orthoslice.common.tensor;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Checks once, at start, that DJL's native bridge works with the libtorch it loaded: a tensor is
 * made on the device, added to itself and read back. DJL 0.35.1's bridge (pytorch-jni
 * 2.7.1-0.35.1) loads against another libtorch (a pip venv, a cluster or NGC image, picked up through
 * {@code PYTORCH_LIBRARY_PATH}) but fails at the first read ("Cannot access data pointer of Tensor that
 * doesn't have storage") or dies on a missing symbol; this turns that into one line that names the
 * libtorch found and the fix.
 */
public final class TorchRuntime {

  /** The libtorch DJL 0.35.1's published bridge is built for. */
  public static final String BRIDGE_TORCH = "2.7.1";

  private static final Pattern VERSION = Pattern.compile("__version__\\s*=\\s*['\"]([^'\"]+)['\"]");
  private static volatile Device checked;

  private TorchRuntime() {}

  /** @throws IllegalArgumentException with the one-line diagnosis when the bridge does not work */
  public static void check(Device device) {
    if (device.equals(checked)) {
      return;
    }
    try (NDManager m = NDManager.newBaseManager(device)) {
      NDArray a = HostArrays.of(m, new float[] {1, 2, 3}, new Shape(3));
      float[] back = a.add(a).toFloatArray();
      if (back.length != 3 || back[2] != 6f) {
        throw new IllegalStateException("1 + 1 gave " + back[0] + " on " + device);
      }
    } catch (RuntimeException | LinkageError e) {
      throw new IllegalArgumentException(diagnosis(e, System.getenv("PYTORCH_LIBRARY_PATH")), e);
    }
    checked = device;
  }

  /** The one line for a failed check, given the cause and {@code PYTORCH_LIBRARY_PATH}. */
  static String diagnosis(Throwable cause, String libraryPath) {
    String why = cause.getMessage() == null ? cause.getClass().getSimpleName() : cause.getMessage().lines()
        .findFirst().orElse("").trim();
    String found = libraryPath == null || libraryPath.isBlank()
        ? "DJL's own libtorch"
        : "libtorch " + installedVersion(Path.of(libraryPath)).orElse("of unknown version") + " from PYTORCH_LIBRARY_PATH="
            + libraryPath;
    return "the PyTorch engine does not work here (" + why + "): DJL 0.35.1's JNI bridge is built for libtorch "
        + BRIDGE_TORCH + " and it loaded " + found + "; unset PYTORCH_LIBRARY_PATH to use DJL's libtorch "
        + BRIDGE_TORCH + ", or build the bridge for your torch with deploy/gpu/build-djl-bridge.sh (deploy/gpu/README.md)";
  }

  /**
   * The version of the libtorch in {@code lib}: a pip wheel's {@code torch/version.py} (lib is
   * {@code torch/lib}) or a libtorch archive's {@code build-version}.
   */
  public static Optional<String> installedVersion(Path lib) {
    try {
      Path wheel = lib.resolveSibling("version.py");
      if (Files.isRegularFile(wheel)) {
        Matcher v = VERSION.matcher(Files.readString(wheel, StandardCharsets.UTF_8));
        if (v.find()) {
          return Optional.of(v.group(1));
        }
      }
      Path archive = lib.resolveSibling("build-version");
      if (Files.isRegularFile(archive)) {
        return Optional.of(Files.readString(archive, StandardCharsets.UTF_8).trim());
      }
    } catch (IOException | RuntimeException e) {
      return Optional.empty();
    }
    return Optional.empty();
  }
}
