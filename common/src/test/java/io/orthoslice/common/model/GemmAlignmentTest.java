package io.orthoslice.common.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.djl.Device;
import org.junit.jupiter.api.Test;

class GemmAlignmentTest {

  @Test
  void the1bMlpWidthIsPaddedOnAGpuOnly() {
    GemmAlignment defaults = new GemmAlignment(64, 1);
    assertEquals(5504, defaults.pad(5461, Device.gpu()));
    assertEquals(5461, defaults.pad(5461, Device.cpu()));
    assertEquals(2048, defaults.pad(2048, Device.gpu()), "an aligned width stays");
    assertEquals(5464, GemmAlignment.everywhere(8).pad(5461, Device.cpu()));
    assertEquals(257, GemmAlignment.NONE.pad(257, Device.gpu()));
  }

  @Test
  void aMultipleBelowOneIsRefused() {
    assertThrows(IllegalArgumentException.class, () -> GemmAlignment.everywhere(0));
  }

  @Test
  void aPaddedMatrixIsNeverSmallerThanItsParameter() {
    assertThrows(IllegalArgumentException.class, () -> new PaddedMatrix(37, 16, 32, 16));
  }
}
