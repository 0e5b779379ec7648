package io.orthoslice.worker.launch;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The coordinator shares the first worker's GPU unless its own arguments give it a device. */
class LaunchDeviceTest {

  @Test
  void theCoordinatorTakesTheFirstGpuUnlessItsArgumentsNameADevice() {
    assertEquals(List.of("--device", "gpu:3"), Launcher.coordinatorDevice(List.of(3, 0), List.of("--rank=8")));
    assertEquals(List.of(), Launcher.coordinatorDevice(List.of(0), List.of("--device=gpu:1")));
    assertEquals(List.of(), Launcher.coordinatorDevice(List.of(0), List.of("--device", "cpu")));
    assertEquals(List.of(), Launcher.coordinatorDevice(List.of(), List.of()));
  }
}
