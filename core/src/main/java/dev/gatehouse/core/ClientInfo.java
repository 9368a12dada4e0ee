package dev.gatehouse.core;

import java.util.Objects;

/**
 * What the client said about itself: its address (the real one when a trusted load balancer sent
 * PROXY protocol), the user name it claimed (informational only: identity comes from the token) and
 * its application name. All of it is untrusted text: audit and logs escape it.
 */
public record ClientInfo(String address, String claimedUser, String application) {
  public ClientInfo {
    Objects.requireNonNull(address, "address == null");
    Objects.requireNonNull(claimedUser, "claimedUser == null");
    Objects.requireNonNull(application, "application == null");
  }
}
