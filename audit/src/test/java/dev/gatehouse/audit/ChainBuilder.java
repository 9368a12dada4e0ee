package dev.gatehouse.audit;

import dev.gatehouse.core.ClientInfo;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Writes a chain to a store exactly as {@link ChainWriter} would, but with checkpoints where the
 * test says, so tamper tests know which seq each checkpoint covers.
 */
public final class ChainBuilder {
  private final AuditStore store;
  private final AuditSigner signer;
  private final String chainId;
  /** The event format it seals in ({@link AuditEvent#format()}). */
  private final int format;
  private final List<AuditEvent> pending = new ArrayList<>();
  private final List<AuditEvent> written = new ArrayList<>();
  private long seq;
  private String head = AuditEvent.GENESIS;
  private Instant time = Instant.parse("2025-03-01T10:00:00.123456Z");

  /** Starts the chain: a CHAIN_STARTED event recording the given checkpoint policy, and a checkpoint. */
  public ChainBuilder(AuditStore store, AuditSigner signer, String chainId, int checkpointEvents) {
    this(store, signer, chainId, checkpointEvents, AuditEvent.CURRENT_FORMAT, Map.of());
  }

  /** As {@link #ChainBuilder(AuditStore, AuditSigner, String, int)}, with more attributes in its start (a predecessor, say). */
  public ChainBuilder(AuditStore store, AuditSigner signer, String chainId, int checkpointEvents, Map<String, String> start) {
    this(store, signer, chainId, checkpointEvents, AuditEvent.CURRENT_FORMAT, start);
  }

  /** A chain of format 1 events, as gateways wrote before format 2: what an older store holds. */
  public static ChainBuilder v1(AuditStore store, AuditSigner signer, String chainId, int checkpointEvents) {
    return new ChainBuilder(store, signer, chainId, checkpointEvents, CanonicalEncoding.FORMAT_V1, Map.of());
  }

  private ChainBuilder(AuditStore store, AuditSigner signer, String chainId, int checkpointEvents, int format,
      Map<String, String> start) {
    this.store = store;
    this.signer = signer;
    this.chainId = chainId;
    this.format = format;
    Map<String, String> attributes = new java.util.TreeMap<>(start);
    attributes.putAll(Map.of(
        ChainAttributes.NODE, chainId.substring(0, chainId.indexOf(':')),
        ChainAttributes.KEY_ID, signer.keyId(),
        ChainAttributes.CHECKPOINT_EVENTS, Integer.toString(checkpointEvents),
        ChainAttributes.CHECKPOINT_INTERVAL_MS, "1000"));
    add(EventBody.of(EventType.CHAIN_STARTED, time, attributes));
    checkpoint();
  }

  public String chainId() {
    return chainId;
  }

  public long seq() {
    return seq;
  }

  public ChainBuilder add(EventBody body) {
    AuditEvent e = new AuditEvent(chainId, seq + 1, head, body,
        CanonicalEncoding.eventHash(format, chainId, seq + 1, head, body), format);
    seq = e.seq();
    head = e.hash();
    pending.add(e);
    return this;
  }

  /** Adds {@code n} COMMAND_DECIDED events by alice on pg-prod, with texts "SELECT <seq>". */
  public ChainBuilder commands(int n) {
    for (int i = 0; i < n; i++) add(command("SELECT " + (seq + 1), nextTime()));
    return this;
  }

  /** Writes the pending events with a checkpoint over the newest one. */
  public ChainBuilder checkpoint() {
    write(Optional.of(SignedCheckpoint.sign(signer, chainId, seq, head, nextTime())));
    return this;
  }

  /** Writes the pending events without a checkpoint (as a batch between checkpoints). */
  public ChainBuilder flush() {
    write(Optional.empty());
    return this;
  }

  /** CHAIN_CLOSED and the final checkpoint, as a clean shutdown writes them. */
  public ChainBuilder close() {
    add(EventBody.of(EventType.CHAIN_CLOSED, nextTime(), Map.of()));
    return checkpoint();
  }

  /** Every event written so far, in seq order. */
  public List<AuditEvent> written() {
    return List.copyOf(written);
  }

  private void write(Optional<SignedCheckpoint> cp) {
    store.append(List.copyOf(pending), cp);
    written.addAll(pending);
    pending.clear();
  }

  private Instant nextTime() {
    time = time.plusMillis(7);
    return time;
  }

  /**
   * The event with its statement text replaced and everything else kept, its hash included: what
   * someone who edits a stored event's text leaves behind (the event must then fail its hash).
   */
  public static AuditEvent withText(AuditEvent e, String text) {
    EventBody b = e.body();
    EventBody.CommandRecord c = b.command().orElseThrow();
    EventBody edited = new EventBody(b.type(), b.time(), b.sessionId(), b.principal(), b.resource(), b.client(),
        Optional.of(new EventBody.CommandRecord(c.protocol(), text, c.kinds(), c.objects(), c.functions(), c.flags(), c.details())),
        b.decision(), b.outcome(), b.ref(), b.attributes());
    return new AuditEvent(e.chainId(), e.seq(), e.prevHash(), edited, e.hash(), e.format());
  }

  /** A COMMAND_DECIDED body with every optional field present, with awkward text in it. */
  public static EventBody command(String text, Instant time) {
    return new EventBody(EventType.COMMAND_DECIDED, time,
        Optional.of("5e551011"),
        Optional.of(new EventBody.Actor("sub-alice", "corp", "alice@example.com", "HUMAN", List.of("dba", "dev"))),
        Optional.of("pg-prod"),
        Optional.of(new ClientInfo("10.0.0.7:50122", "alice", "psql")),
        Optional.of(new EventBody.CommandRecord("sql", text, List.of("SELECT"), List.of("public.customers"),
            List.of("now"), List.of("UNCLASSIFIED"), Map.of("portal", "", "statement", "s1"))),
        Optional.of(new EventBody.Ruling(EventBody.Ruling.Effect.ALLOW, "dba-read", Optional.empty())),
        Optional.empty(),
        Optional.empty(),
        Map.of());
  }

  /** A COMMAND_COMPLETED body for the decided event {@code ref}. */
  public static EventBody outcome(String ref, Instant time) {
    return new EventBody(EventType.COMMAND_COMPLETED, time,
        Optional.of("5e551011"),
        Optional.of(new EventBody.Actor("sub-alice", "corp", "alice@example.com", "HUMAN", List.of("dba", "dev"))),
        Optional.of("pg-prod"),
        Optional.of(new ClientInfo("10.0.0.7:50122", "alice", "psql")),
        Optional.empty(),
        Optional.empty(),
        Optional.of(new EventBody.Result("ERROR", -1, Optional.of("42P01"), 12)),
        Optional.of(ref),
        Map.of());
  }
}
