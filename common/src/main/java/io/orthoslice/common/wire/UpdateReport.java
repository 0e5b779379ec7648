package io.orthoslice.common.wire;

/**
 * What travels with a worker's update besides its tensors: who (its id and the key its Join
 * returned), which round and slot, the weights it trained from, and where its time went (seconds).
 *
 * @param meanLoss mean training loss of the local steps (nats per token)
 * @param fetchSeconds fetching the round's weights (the broadcast); 0 when it held them already
 */
public record UpdateReport(
    String workerId,
    String workerKey,
    long round,
    int slot,
    long weightsVersion,
    double meanLoss,
    long tokens,
    double stepSeconds,
    double fetchSeconds,
    double waitSeconds,
    double trainSeconds) {}
