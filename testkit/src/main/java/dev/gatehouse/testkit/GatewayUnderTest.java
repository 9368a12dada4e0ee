package dev.gatehouse.testkit;

import dev.gatehouse.core.Secret;
import java.util.List;
import java.util.Objects;

/**
 * What the {@link GatewayConformance} suite needs from a protocol's gateway, in protocol-neutral
 * terms. A protocol's integration test implements it over the real thing: the gateway running
 * in-process with its reference policy, a real target and a real client (for PostgreSQL: psql or
 * pgjdbc through the listener to a real server).
 *
 * <p>The reference policy the adapter configures must:
 *
 * <ul>
 *   <li>let {@link Caller#PERMITTED} connect to {@link #resource()} and run {@link #allowed()};
 *   <li>deny {@link #deniedCommand()} to that caller, by a rule with a name;
 *   <li>refuse {@link Caller#FORBIDDEN} at connection time (a valid token, no access);
 *   <li>reject the token of {@link Caller#BAD_TOKEN} (e.g. signed by a key the issuer never
 *       published).
 * </ul>
 *
 * <p>Every method must return within a bounded time (the client's own timeouts): a hang is a
 * failure of the gateway, and the suite reports it as one. Implementations are used from one test
 * thread at a time.
 */
public interface GatewayUnderTest {

  /** Who connects. */
  enum Caller {
    /** Admitted to the resource; may run the allowed command, not the denied one. */
    PERMITTED,
    /** Holds a valid token but policy refuses them the resource. */
    FORBIDDEN,
    /** Presents a token the gateway must reject. */
    BAD_TOKEN
  }

  /**
   * Opens a client session through the gateway as the caller, with a token minted for this call.
   * Returns {@link Opening.Refused} with the client-visible native error when the gateway refuses.
   */
  Opening open(Caller caller);

  /** The subject the audit log must name for a caller's events ({@link Caller#PERMITTED}, {@link Caller#FORBIDDEN}). */
  String subject(Caller caller);

  /** The resource name the sessions are opened to. */
  String resource();

  /** A command the reference policy allows, and what the client shows for it. */
  Probe allowed();

  /** A command the reference policy denies to {@link Caller#PERMITTED}. */
  String deniedCommand();

  /** The native error code a denied command yields (PostgreSQL: {@code 42501}). */
  String deniedErrorCode();

  /** The native error code a refused connection yields for the caller (PostgreSQL: {@code 28000}, {@code 28P01}). */
  String refusedErrorCode(Caller caller);

  /** Every audit event the gateway has stored so far, in the store's order. */
  List<AuditRecord> audit();

  /** Everything the gateway has logged so far (all levels that are enabled in production). */
  String logs();

  /**
   * Every credential in play: the tokens the adapter minted (including rejected ones) and the
   * target's own passwords. None may appear in logs, audit events or client-visible messages.
   */
  List<Secret> credentials();

  /**
   * Makes the target end this session's backend connection, as an administrator or a crash would
   * (PostgreSQL: {@code pg_terminate_backend} on the gateway's backend for this session).
   */
  void dropTargetConnection(ClientSession session);

  /** A command and the client-visible text it produces (for psql -At: the bare value). */
  record Probe(String command, String expectedOutput) {
    public Probe {
      Objects.requireNonNull(command, "command == null");
      Objects.requireNonNull(expectedOutput, "expectedOutput == null");
    }
  }

  /** The result of opening a session. */
  sealed interface Opening {
    record Opened(ClientSession session) implements Opening {
      public Opened {
        Objects.requireNonNull(session, "session == null");
      }
    }

    /** The connection was refused; {@code code} and {@code message} are what the client saw. */
    record Refused(String code, String message) implements Opening {
      public Refused {
        Objects.requireNonNull(code, "code == null");
        Objects.requireNonNull(message, "message == null");
      }
    }
  }

  /** One open client session. Closing it ends the client's connection; closing twice is harmless. */
  interface ClientSession extends AutoCloseable {
    /** The gateway's id for this session (as audited), however the adapter learns it. */
    String sessionId();

    /** Runs one command as the client would and returns what the client saw. */
    Reply run(String command);

    @Override
    void close();
  }

  /** What the client saw for one command. */
  sealed interface Reply {
    /** The command ran; {@code text} is the client's output. */
    record Output(String text) implements Reply {
      public Output {
        Objects.requireNonNull(text, "text == null");
      }
    }

    /**
     * The command failed with a native error.
     *
     * @param connectionClosed whether the client's connection is gone afterwards
     */
    record Error(String code, String message, boolean connectionClosed) implements Reply {
      public Error {
        Objects.requireNonNull(code, "code == null");
        Objects.requireNonNull(message, "message == null");
      }
    }
  }
}
