package dev.gatehouse.postgres;

import dev.gatehouse.postgres.wire.BackendKeyData;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The cancel keys this node minted, each mapped to the backend key and target of its session.
 *
 * <p>A client never sees the target's own key: Gatehouse hands out a key of its own (process id:
 * the node id in the top 8 bits, 24 random bits; secret: 4 random bytes), so a cancel request can
 * only reach a backend through this registry, and a guessed key cancels nothing (THREATS.md item
 * 12). The secret is compared in constant time. Keys are removed when their session ends.
 *
 * <p>Thread-safe.
 */
final class CancelKeys {
  /** What a minted key stands for. */
  record Entry(byte[] secret, PostgresTarget target, BackendKeyData backendKey) {}

  private final int nodeId;
  private final SecureRandom random = new SecureRandom();
  private final Map<Integer, Entry> keys = new ConcurrentHashMap<>();

  CancelKeys(int nodeId) {
    if (nodeId < 0 || nodeId > 255) throw new IllegalArgumentException("nodeId out of range 0..255: " + nodeId);
    this.nodeId = nodeId;
  }

  /** Mints a fresh key for a session whose backend is {@code backendKey} on {@code target}. */
  BackendKeyData mint(PostgresTarget target, BackendKeyData backendKey) {
    Objects.requireNonNull(target, "target == null");
    Objects.requireNonNull(backendKey, "backendKey == null");
    byte[] secret = new byte[4];
    random.nextBytes(secret);
    Entry entry = new Entry(secret.clone(), target, backendKey);
    while (true) {
      int processId = (nodeId << 24) | random.nextInt(1 << 24);
      if (processId == 0) continue;
      if (keys.putIfAbsent(processId, entry) == null) {
        return new BackendKeyData(processId, secret);
      }
    }
  }

  /** The session behind a key, when the process id is known and the secret matches. */
  Optional<Entry> find(int processId, byte[] secret) {
    Entry entry = keys.get(processId);
    if (entry == null) return Optional.empty();
    // Constant time: a mismatch must not tell how many leading bytes were right.
    return MessageDigest.isEqual(entry.secret(), secret) ? Optional.of(entry) : Optional.empty();
  }

  /** Forgets a key: its session ended. */
  void remove(BackendKeyData minted) {
    keys.remove(minted.processId());
  }

  /** Which node minted a key (the top byte of its process id). */
  static int nodeOf(int processId) {
    return processId >>> 24;
  }

  int size() {
    return keys.size();
  }
}
