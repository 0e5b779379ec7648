package io.orthoslice.common.wire;


import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.orthoslice.common.config.RunConfig;
import io.orthoslice.common.model.LlamaConfig;
import io.orthoslice.proto.RoundAssignment;
import io.orthoslice.proto.RoundUpdateHeader;
import io.orthoslice.proto.RoundUpdateKind;
import io.orthoslice.proto.RunSpec;
import io.orthoslice.proto.UpdateHeader;
import java.util.List;
import java.util.Map;

/**
 * The one translator between the protocol's plain records and the generated messages of
 * {@code orthoslice.v1}: the coordinator's service and the worker's client call these, and nothing
 * else reads or builds those messages' fields. A message that cannot be turned into a record is an
 * {@link IllegalArgumentException} naming the field.
 */
public final class WireMessages {

  private static final ObjectMapper JSON = new ObjectMapper();

  private WireMessages() {}

  public static RunSpec toProto(RunDescription r) {
    try {
      return RunSpec.newBuilder()
          .setRunId(r.runId())
          .setModelConfigJson(JSON.writeValueAsString(r.model().toHuggingFace(r.bosId(), r.eosId())))
          .setDatasetId(r.datasetId())
          .setRunConfigJson(r.config().toJson())
          .build();
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot write the model configuration as JSON: " + e.getMessage(), e);
    }
  }

  /** @throws IllegalArgumentException when a field is missing or malformed (an old coordinator, say) */
  @SuppressWarnings("unchecked")
  public static RunDescription fromProto(RunSpec s) {
    if (s.getRunConfigJson().isEmpty()) {
      throw new IllegalArgumentException("the coordinator's run spec lacks run_config_json (protocol version "
          + Protocol.VERSION + " needs it)");
    }
    try {
      Map<String, Object> hf = JSON.readValue(s.getModelConfigJson(), Map.class);
      return new RunDescription(s.getRunId(), LlamaConfig.fromHuggingFace(hf), intOr(hf.get("bos_token_id")),
          intOr(hf.get("eos_token_id")), RunConfig.fromJson(s.getRunConfigJson()), s.getDatasetId());
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException("the coordinator's run spec holds malformed JSON: " + e.getOriginalMessage());
    }
  }

  private static int intOr(Object v) {
    return v instanceof Number n ? n.intValue() : -1;
  }

  public static RoundAssignment toProto(Assignment a) {
    if (a.finished()) {
      return RoundAssignment.newBuilder().setFinished(true).build();
    }
    return RoundAssignment.newBuilder().setRound(a.round()).setParticipants(a.participants()).setSlot(a.slot())
        .setRunSeed(a.runSeed()).setLocalSteps(a.localSteps()).setWeightsVersion(a.weightsVersion())
        .setGlobalStep(a.globalStep()).setDataPosition(a.dataPosition()).setSliceChecksum(a.sliceChecksum())
        .setDeadlineUnixMs(a.deadlineUnixMs()).setProjectionDraw(a.projectionDraw()).build();
  }

  /** The assignment of an answer that is not pending. */
  public static Assignment fromProto(RoundAssignment a) {
    if (a.getPending()) {
      throw new IllegalArgumentException("a pending answer carries no assignment");
    }
    if (a.getFinished()) {
      return Assignment.FINISHED;
    }
    return new Assignment(false, a.getRound(), a.getParticipants(), a.getSlot(), a.getRunSeed(), a.getLocalSteps(),
        a.getWeightsVersion(), a.getGlobalStep(), a.getDataPosition(), a.getSliceChecksum(), a.getDeadlineUnixMs(),
        a.getProjectionDraw());
  }

  public static UpdateHeader toProto(UpdateReport r) {
    return UpdateHeader.newBuilder().setWorkerId(r.workerId()).setWorkerKey(r.workerKey()).setRound(r.round())
        .setSlot(r.slot())
        .setWeightsVersion(r.weightsVersion()).setMeanLoss(r.meanLoss()).setTokens(r.tokens())
        .setStepSeconds(r.stepSeconds()).setFetchSeconds(r.fetchSeconds()).setWaitSeconds(r.waitSeconds())
        .setTrainSeconds(r.trainSeconds()).build();
  }

  public static UpdateReport fromProto(UpdateHeader h) {
    return new UpdateReport(h.getWorkerId(), h.getWorkerKey(), h.getRound(), h.getSlot(), h.getWeightsVersion(), h.getMeanLoss(),
        h.getTokens(), h.getStepSeconds(), h.getFetchSeconds(), h.getWaitSeconds(), h.getTrainSeconds());
  }

  /** The header of a delta update (its encoded tensors travel as chunks after it). */
  public static RoundUpdateHeader header(DeltaUpdate u) {
    return RoundUpdateHeader.newBuilder().setRound(u.round()).setFromVersion(u.fromVersion())
        .setToVersion(u.toVersion()).setWeightsChecksum(u.weightsChecksum())
        .setKind(RoundUpdateKind.ROUND_UPDATE_KIND_DELTA).build();
  }

  /** A delta update from its header and the encoded tensors that followed it. */
  public static DeltaUpdate deltaFromProto(RoundUpdateHeader h, Map<String, WireTensor> tensors) {
    requireKind(h, RoundUpdateKind.ROUND_UPDATE_KIND_DELTA);
    return new DeltaUpdate(h.getRound(), h.getFromVersion(), h.getToVersion(), tensors, h.getWeightsChecksum());
  }

  private static void requireKind(RoundUpdateHeader h, RoundUpdateKind kind) {
    if (h.getKind() != kind) {
      throw new WireFormatException("round update of round " + (h.getRound() + 1) + " is " + h.getKind()
          + ", expected " + kind + " for this run's wire precision");
    }
  }

}
