package dev.gatehouse.policy;

import static dev.gatehouse.policy.Fixtures.*;
import static org.assertj.core.api.Assertions.assertThat;

import dev.gatehouse.core.Decision;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class TimeWindowTest {
  private static final String NIGHT_SHIFT = """
      version: 1
      rules:
        - name: night-shift
          effect: allow
          subjects: {groups: [ops]}
          when:
            time:
              - days: [fri]
                from: "22:00"
                to: "06:00"
                zone: Europe/Paris
      """;

  private static String at(String instant, String yaml) {
    return policy(Instant.parse(instant), yaml).admit(user("olga", "ops"), PG_DEMO, CLIENT).rule();
  }

  @Test
  void aWindowCrossingMidnightCoversTheNextMorningOfTheDayItOpens() {
    // 2025-06-06 is a Friday; Paris is UTC+2 in June.
    assertThat(at("2025-06-06T19:59:00Z", NIGHT_SHIFT)).isEqualTo(Decision.NO_MATCH); // Fri 21:59
    assertThat(at("2025-06-06T20:00:00Z", NIGHT_SHIFT)).isEqualTo("night-shift"); // Fri 22:00
    assertThat(at("2025-06-07T01:30:00Z", NIGHT_SHIFT)).isEqualTo("night-shift"); // Sat 03:30
    assertThat(at("2025-06-07T04:00:00Z", NIGHT_SHIFT)).isEqualTo(Decision.NO_MATCH); // Sat 06:00, end exclusive
    assertThat(at("2025-06-07T21:00:00Z", NIGHT_SHIFT)).isEqualTo(Decision.NO_MATCH); // Sat 23:00: not a Friday
    assertThat(at("2025-06-06T01:00:00Z", NIGHT_SHIFT)).isEqualTo(Decision.NO_MATCH); // Fri 03:00: Thursday's night
  }

  @Test
  void theSameInstantFallsInOrOutOfAWindowDependingOnItsZone() {
    String yaml = """
        version: 1
        rules:
          - name: office-hours
            effect: allow
            subjects: {groups: [ops]}
            when:
              time: [{days: [mon, tue, wed, thu, fri], from: "09:00", to: "17:00", zone: %s}]
        """;
    String instant = "2025-06-04T14:00:00Z"; // Wednesday: 16:00 in Paris, 10:00 in New York, 23:00 in Tokyo
    assertThat(at(instant, yaml.formatted("Europe/Paris"))).isEqualTo("office-hours");
    assertThat(at(instant, yaml.formatted("America/New_York"))).isEqualTo("office-hours");
    assertThat(at(instant, yaml.formatted("Asia/Tokyo"))).isEqualTo(Decision.NO_MATCH);
    assertThat(at("2025-06-04T16:00:00Z", yaml.formatted("Europe/Paris"))).isEqualTo(Decision.NO_MATCH); // 18:00
  }

  @Test
  void omittedDaysMeanEveryDayAndTwentyFourHundredEndsTheDay() {
    String yaml = """
        version: 1
        rules:
          - name: evenings
            effect: allow
            subjects: {groups: [ops]}
            when:
              time: [{from: "18:00", to: "24:00", zone: UTC}]
        """;
    assertThat(at("2025-06-08T23:59:59Z", yaml)).isEqualTo("evenings"); // Sunday
    assertThat(at("2025-06-08T17:59:59Z", yaml)).isEqualTo(Decision.NO_MATCH);
    assertThat(at("2025-06-09T00:00:00Z", yaml)).isEqualTo(Decision.NO_MATCH);
  }

  @Test
  void severalWindowsAreAlternatives() {
    String yaml = """
        version: 1
        rules:
          - name: split-shift
            effect: allow
            subjects: {groups: [ops]}
            when:
              time:
                - {from: "08:00", to: "12:00", zone: UTC}
                - {from: "14:00", to: "18:00", zone: UTC}
        """;
    assertThat(at("2025-06-04T09:00:00Z", yaml)).isEqualTo("split-shift");
    assertThat(at("2025-06-04T13:00:00Z", yaml)).isEqualTo(Decision.NO_MATCH);
    assertThat(at("2025-06-04T15:00:00Z", yaml)).isEqualTo("split-shift");
  }

  @Test
  void aDenyOutsideBusinessHoursIsWrittenAsAnUnlessWithAWindow() {
    String yaml = """
        version: 1
        rules:
          - name: ops
            effect: allow
            subjects: {groups: [ops]}
          - name: weekdays-only
            effect: deny
            unless:
              when:
                time: [{days: [mon, tue, wed, thu, fri], from: "08:00", to: "19:00", zone: Europe/Paris}]
        """;
    assertThat(at("2025-06-04T10:00:00Z", yaml)).isEqualTo("ops"); // Wed 12:00 Paris
    assertThat(at("2025-06-07T10:00:00Z", yaml)).isEqualTo("weekdays-only"); // Saturday
  }
}
