package dev.gatehouse.policy;

import java.time.DayOfWeek;
import java.time.Instant;
import java.time.LocalTime;
import java.time.ZoneId;
import java.time.ZonedDateTime;
import java.util.Set;

/**
 * Days of the week and a time range in a named zone. {@code from} is inclusive, {@code to}
 * exclusive; {@code to} at or before {@code from} means the window crosses midnight, and then
 * {@code days} names the day the window opens (a Friday 22:00–06:00 window covers Saturday 03:00).
 * {@code endOfDay} stands for "24:00". Daylight-saving changes follow the zone's wall clock.
 */
record TimeWindow(Set<DayOfWeek> days, LocalTime from, LocalTime to, boolean endOfDay, ZoneId zone) {

  boolean contains(Instant instant) {
    ZonedDateTime at = instant.atZone(zone);
    LocalTime t = at.toLocalTime();
    DayOfWeek day = at.getDayOfWeek();
    if (endOfDay) return days.contains(day) && !t.isBefore(from);
    if (from.isBefore(to)) return days.contains(day) && !t.isBefore(from) && t.isBefore(to);
    // Crosses midnight: the evening part belongs to today, the morning part to yesterday's window.
    if (!t.isBefore(from)) return days.contains(day);
    return t.isBefore(to) && days.contains(day.minus(1));
  }
}
