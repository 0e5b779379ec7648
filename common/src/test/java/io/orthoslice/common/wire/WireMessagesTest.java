package io.orthoslice.common.wire;

import io.orthoslice.common.config.WirePrecision;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orthoslice.common.model.LlamaConfig;
import io.orthoslice.common.config.InnerState;
import io.orthoslice.common.config.MergeRule;
import io.orthoslice.common.config.RoundMode;
import io.orthoslice.common.config.RoundRules;
import io.orthoslice.common.config.TrainConfig;
import io.orthoslice.proto.RoundAssignment;
import io.orthoslice.proto.RunSpec;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Every record survives the trip through its message, and a message a record cannot come from is refused. */
class WireMessagesTest {

  @Test
  void recordsRoundTripThroughTheirMessages() {
    RunDescription run = new RunDescription("run-1", LlamaConfig.preset("tiny").withVocabSize(257), 1, 2,
        TrainConfig.defaults(60).withSeed(9), RoundMode.SAME, 8, 15, 4, "ds",
        new RoundRules(MergeRule.parse("mean*2"), 3, InnerState.TRANSPORT, WirePrecision.INT8, 0.25, 7));
    assertEquals(run, WireMessages.fromProto(WireMessages.toProto(run)));
    assertEquals(7, WireMessages.toProto(run).getRoundWarmup());

    Assignment a = new Assignment(false, 3, 4, 1, 9, 15, 3, 45, 120, 0xabcdef, 1234, 1);
    assertEquals(a, WireMessages.fromProto(WireMessages.toProto(a)));
    assertEquals(Assignment.FINISHED, WireMessages.fromProto(WireMessages.toProto(Assignment.FINISHED)));

    UpdateReport r = new UpdateReport("w1", "k1", 3, 1, 3, 2.5, 960, 0.1, 0.2, 0.3, 1.5);
    assertEquals(r, WireMessages.fromProto(WireMessages.toProto(r)));

    FactoredUpdate u = new FactoredUpdate(3, 3, 4, 4, 9, 1, List.of(0, 2),
        Map.of("x", new float[] {1, 2, 3}), 77);
    FactoredUpdate back = WireMessages.fromProto(WireMessages.header(u),
        Map.of("x", WireTensor.ofFloats("x", new float[] {1, 2, 3}, new long[] {3})));
    assertEquals(List.of(u.round(), u.fromVersion(), u.toVersion(), (long) u.participants(), u.runSeed(),
        u.projectionDraw(), (long) u.weightsChecksum()), List.of(back.round(), back.fromVersion(), back.toVersion(),
        (long) back.participants(), back.runSeed(), back.projectionDraw(), (long) back.weightsChecksum()));
    assertEquals(u.mergedSlots(), back.mergedSlots());
    assertArrayEquals(u.tensors().get("x"), back.tensors().get("x"));
  }

  @Test
  void aRunSpecWithoutTheVersionTwoFieldsOrWithBrokenJsonIsRefusedByName() {
    RunSpec old = RunSpec.newBuilder().setMode("orthogonal").setModelConfigJson("{}").build();
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> WireMessages.fromProto(old));
    assertTrue(e.getMessage().contains("merge_rule"), e.getMessage());
    RunSpec noWire = old.toBuilder().setMergeRule("sum").setSliceRounds(1).setInnerState("reset").build();
    e = assertThrows(IllegalArgumentException.class, () -> WireMessages.fromProto(noWire));
    assertTrue(e.getMessage().contains("wire_precision"), e.getMessage());
    RunSpec broken = noWire.toBuilder().setWirePrecision("int8").setWireDensity(1).setModelConfigJson("{not json").build();
    e = assertThrows(IllegalArgumentException.class, () -> WireMessages.fromProto(broken));
    assertTrue(e.getMessage().contains("malformed JSON"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> WireMessages.fromProto(
        RoundAssignment.newBuilder().setPending(true).build()));
  }
}
