package dev.gatehouse.audit;

import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.stream.Stream;

/**
 * A real store seen through a gateway that is about to be killed: once {@link #sever()}ed, appends
 * fail, so what the writer journals after that never reaches the store, as after {@code kill -9}.
 * Everything else reaches the store as it is.
 */
final class SeverableStore implements AuditStore {
  private final AuditStore store;
  private volatile boolean severed;

  SeverableStore(AuditStore store) {
    this.store = store;
  }

  /** From now on, appends fail: the process is gone. */
  void sever() {
    severed = true;
  }

  private void check() {
    if (severed) throw new IllegalStateException("the writing process was killed");
  }

  @Override
  public void append(List<AuditEvent> events, Optional<SignedCheckpoint> checkpoint) {
    check();
    store.append(events, checkpoint);
  }

  @Override
  public void append(List<AuditEvent> events, List<byte[]> canonical, List<byte[]> hashes, Optional<SignedCheckpoint> checkpoint) {
    check();
    store.append(events, canonical, hashes, checkpoint);
  }

  @Override
  public List<String> chainIds() {
    return store.chainIds();
  }

  @Override
  public Stream<AuditEvent> events(String chainId) {
    return store.events(chainId);
  }

  @Override
  public List<SignedCheckpoint> checkpoints(String chainId) {
    return store.checkpoints(chainId);
  }

  @Override
  public Optional<AuditEvent> find(String eventId) {
    return store.find(eventId);
  }

  @Override
  public List<AuditEvent> search(AuditQuery query) {
    return store.search(query);
  }

  @Override
  public List<AuditEvent> tail(int limit) {
    return store.tail(limit);
  }

  @Override
  public List<AuditEvent> after(String eventId, int limit) {
    return store.after(eventId, limit);
  }

  @Override
  public Optional<SignedCheckpoint> latestCheckpoint(String nodeId) {
    return store.latestCheckpoint(nodeId);
  }

  @Override
  public OptionalLong lastSeq(String chainId) {
    return store.lastSeq(chainId);
  }

  @Override
  public Durability durability() {
    return store.durability();
  }

  @Override
  public void close() {
    // the store is the test's
  }
}
