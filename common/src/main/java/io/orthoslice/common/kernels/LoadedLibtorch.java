package io.orthoslice.common.kernels;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/** The libtorch_cpu.so this process has mapped, from /proc/self/maps (Linux). */
final class LoadedLibtorch {

  private LoadedLibtorch() {}

  static Optional<Path> find() {
    try {
      return find(Files.readAllLines(Path.of("/proc/self/maps")));
    } catch (IOException | RuntimeException e) {
      return Optional.empty();
    }
  }

  /** The first mapped file named libtorch_cpu.so (or libtorch_cpu.so.N) in maps lines. */
  static Optional<Path> find(List<String> maps) {
    for (String line : maps) {
      int slash = line.indexOf('/');
      if (slash < 0) {
        continue;
      }
      Path file = Path.of(line.substring(slash).trim());
      String name = file.getFileName().toString();
      if (name.equals("libtorch_cpu.so") || name.startsWith("libtorch_cpu.so.")) {
        return Optional.of(file);
      }
    }
    return Optional.empty();
  }
}
