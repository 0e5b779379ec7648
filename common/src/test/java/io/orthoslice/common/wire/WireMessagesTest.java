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
import io.orthoslice.common.config.RunConfig;
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
        RunConfig.DEFAULTS.with(Map.of("seed", 9, "mode", "same", "rank", 8, "local_steps", 15, "rounds", 4,
            "merge", "mean*2", "slice_rounds", 3)).with(Map.of("inner_state", "transport", "wire", "int8",
            "wire_density", 0.25, "round_warmup", 7, "dtype", "fp16", "min_lr", 1e-5)), "ds");
    assertEquals(run, WireMessages.fromProto(WireMessages.toProto(run)));
    assertEquals(new RoundRules(MergeRule.parse("mean*2"), 3, InnerState.TRANSPORT, WirePrecision.INT8, 0.25, 7),
        WireMessages.fromProto(WireMessages.toProto(run)).config().rules());

    Assignment a = new Assignment(false, 3, 4, 1, 9, 15, 3, 45, 120, 0xabcdef, 1234, 1);
    assertEquals(a, WireMessages.fromProto(WireMessages.toProto(a)));
    assertEquals(Assignment.FINISHED, WireMessages.fromProto(WireMessages.toProto(Assignment.FINISHED)));

    UpdateReport r = new UpdateReport("w1", "k1", 3, 1, 3, 2.5, 960, 0.1, 0.2, 0.3, 1.5);
    assertEquals(r, WireMessages.fromProto(WireMessages.toProto(r)));

    Map<String, WireTensor> x = Map.of("x", WireTensor.ofFloats("x", new float[] {1, 2, 3}, new long[] {3}));
    DeltaUpdate u = new DeltaUpdate(3, 3, 4, x, 0x8123456789abcdefL); // all 64 bits travel
    DeltaUpdate back = WireMessages.deltaFromProto(WireMessages.header(u), x);
    assertEquals(List.of(u.round(), u.fromVersion(), u.toVersion(), u.weightsChecksum()),
        List.of(back.round(), back.fromVersion(), back.toVersion(), back.weightsChecksum()));
    assertArrayEquals(u.tensors().get("x").toFloats(), back.tensors().get("x").toFloats());
  }

  @Test
  void aRunSpecWithoutItsConfigurationOrWithBrokenJsonIsRefusedByName() {
    RunSpec good = WireMessages.toProto(new RunDescription("run-1", LlamaConfig.preset("tiny").withVocabSize(257), 1,
        2, RunConfig.DEFAULTS, "ds"));
    RunSpec old = good.toBuilder().clearRunConfigJson().build();
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> WireMessages.fromProto(old));
    assertTrue(e.getMessage().contains("run_config_json"), e.getMessage());
    RunSpec unknown = good.toBuilder().setRunConfigJson("{\"mode\": \"same\", \"ranks\": 4}").build();
    e = assertThrows(IllegalArgumentException.class, () -> WireMessages.fromProto(unknown));
    assertTrue(e.getMessage().contains("unknown run setting 'ranks'"), e.getMessage());
    RunSpec broken = old.toBuilder().setRunConfigJson("{}").setModelConfigJson("{not json").build();
    e = assertThrows(IllegalArgumentException.class, () -> WireMessages.fromProto(broken));
    assertTrue(e.getMessage().contains("malformed JSON"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> WireMessages.fromProto(
        RoundAssignment.newBuilder().setPending(true).build()));
  }
}
