package dev.gatehouse.masking;

import java.util.List;

/**
 * The masking rules as written in configuration, bound from YAML by the server (the {@code
 * masking:} section of gatehouse.yaml; camelCase keys, absent keys bind to {@code null} and take the
 * defaults below). Values are kept as written; {@link Masking#compile} validates them and reports
 * every error with its location. Policy decides <em>who</em> is masked: a policy allow rule's
 * {@code mask: [email, card]} names rules defined here, and its {@code unless} exempts subjects or
 * groups. These rules decide <em>what</em> is masked and how.
 *
 * <pre>{@code
 * masking:
 *   hashKey: ${file:/etc/gatehouse/masking.key}   # the server's secret reference, for style hash
 *   rules:
 *     - name: email
 *       resources: ["pg-*"]                       # default: every resource
 *       columns: ["public.customers.email", "*.*.contact_email"]   # schema.table.column globs
 *       style: {type: hash, length: 16, prefix: "email:"}
 *       detect: [email]                           # detectors for untraceable columns
 *       strict: mask                              # mask (default) | deny | off
 *       confine: true                             # only in the select list (default false)
 * }</pre>
 */
public record MaskingRules(List<Rule> rules) {
  public MaskingRules {
    rules = rules == null ? List.of() : List.copyOf(rules);
  }

  public static MaskingRules of(Rule... rules) {
    return new MaskingRules(List.of(rules));
  }

  /**
   * One named masking rule.
   *
   * @param name what policy rules' {@code mask} lists refer to; unique
   * @param description free text for people
   * @param resources resource name globs the rule applies to (default {@code ["*"]})
   * @param columns {@code schema.table.column} globs, each part matched separately and
   *     case-insensitively ({@code *.*.email}); the columns masked whole
   * @param style how those columns are masked (default {@code {type: redact}})
   * @param detect value detectors this rule turns on ({@code card}, {@code email}, {@code phone},
   *     {@code ssn}, {@code iban}, {@code ip}, {@code cloud_key}, {@code private_key}, {@code jwt},
   *     {@code bearer_token}, or {@code all})
   * @param detectIn {@code untraceable} (default): detectors scan columns Gatehouse cannot trace;
   *     {@code all}: every column that can hold text
   * @param strict {@code mask} (default), {@code deny} or {@code off}: see {@link StrictMode}
   * @param confine whether the columns may only be selected: a statement using them anywhere else
   *     (WHERE, JOIN, ORDER BY, GROUP BY, aggregates) is refused, closing the inference channel
   */
  public record Rule(
      String name,
      String description,
      List<String> resources,
      List<String> columns,
      Style style,
      List<String> detect,
      String detectIn,
      String strict,
      Boolean confine) {
    public Rule {
      name = name == null ? "" : name;
      description = description == null ? "" : description;
      resources = resources == null ? List.of("*") : List.copyOf(resources);
      columns = columns == null ? List.of() : List.copyOf(columns);
      style = style == null ? new Style(null, null, null, null, null, null, null) : style;
      detect = detect == null ? List.of() : List.copyOf(detect);
      detectIn = detectIn == null ? "untraceable" : detectIn;
      strict = strict == null ? "mask" : strict;
      confine = confine != null && confine;
    }

    /** A column rule with the default options. */
    public static Rule columns(String name, Style style, String... columns) {
      return new Rule(name, null, null, List.of(columns), style, null, null, null, null);
    }

    /** A rule that only turns detectors on. */
    public static Rule detectors(String name, String... detectors) {
      return new Rule(name, null, null, null, null, List.of(detectors), null, null, null);
    }
  }

  /**
   * A masking style as written.
   *
   * @param type {@code redact} (default), {@code keep_last}, {@code placeholder} or {@code hash}
   * @param keep {@code keep_last}: how many trailing characters stay (default 4)
   * @param text {@code placeholder}: the replacement text (default {@code [masked]})
   * @param length {@code hash}: characters of hash output (default 16)
   * @param prefix {@code hash}: written before the hash (default empty)
   * @param encoding {@code hash}: {@code hex} (default) or {@code base32}
   * @param perPrincipal {@code hash}: derive the key per principal too (default false): then two
   *     people's masked values cannot be compared, and neither can one person's across rules' joins
   *     with another's
   */
  public record Style(
      String type, Integer keep, String text, Integer length, String prefix, String encoding, Boolean perPrincipal) {
    public Style {
      type = type == null ? "redact" : type;
      keep = keep == null ? 4 : keep;
      text = text == null ? "[masked]" : text;
      length = length == null ? 16 : length;
      prefix = prefix == null ? "" : prefix;
      encoding = encoding == null ? "hex" : encoding;
      perPrincipal = perPrincipal != null && perPrincipal;
    }

    public static Style redact() {
      return new Style("redact", null, null, null, null, null, null);
    }

    public static Style keepLast(int keep) {
      return new Style("keep_last", keep, null, null, null, null, null);
    }

    public static Style placeholder(String text) {
      return new Style("placeholder", null, text, null, null, null, null);
    }

    public static Style hash(int length, String prefix) {
      return new Style("hash", null, null, length, prefix, null, null);
    }
  }
}
