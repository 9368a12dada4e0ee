package dev.gatehouse.postgres.sql;

import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * What Gatehouse knows about PostgreSQL built-in functions. The lists are explicit and reviewed by
 * hand; a name that is on none of them is treated as code Gatehouse cannot see into.
 *
 * <p>A name counts as a built-in only when called unqualified or qualified with
 * {@code pg_catalog}: {@code public.lower(x)} is a user-defined function. (An unqualified call
 * resolves to {@code pg_catalog} first unless the search path names {@code pg_catalog} later, which
 * only a flagged {@code SET search_path} or {@code set_config} can do.)
 */
final class Functions {
  private Functions() {}

  /**
   * Known-harmless built-ins: pure or read-only, no side effect on data, files, network, settings
   * or locks, and none takes SQL text or a table name as a string. Calling anything else raises
   * {@code OPAQUE_CODE}. Deliberately absent: {@code setseed} (session state), every {@code
   * *_to_xml} and {@code ts_stat}/{@code ts_rewrite} (run SQL given as text), {@code
   * pg_cancel_backend} and {@code pg_terminate_backend} (every session through Gatehouse signs in as
   * the same role, so they reach other people's work). The advisory locks and {@code pg_notify} are
   * known too, but with a flag or kind of their own ({@link #ADVISORY_LOCKS}, {@link #NOTIFIES}).
   */
  static final Set<String> HARMLESS = Set.of(
      // aggregates
      "avg", "bit_and", "bit_or", "bit_xor", "bool_and", "bool_or", "count", "every", "max", "min", "sum",
      "string_agg", "array_agg", "json_agg", "jsonb_agg", "json_object_agg", "jsonb_object_agg", "xmlagg",
      "corr", "covar_pop", "covar_samp", "regr_avgx", "regr_avgy", "regr_count", "regr_intercept", "regr_r2",
      "regr_slope", "regr_sxx", "regr_sxy", "regr_syy", "stddev", "stddev_pop", "stddev_samp", "variance",
      "var_pop", "var_samp", "mode", "percentile_cont", "percentile_disc", "range_agg", "range_intersect_agg",
      // window functions
      "row_number", "rank", "dense_rank", "percent_rank", "cume_dist", "ntile", "lag", "lead", "first_value",
      "last_value", "nth_value",
      // strings
      "ascii", "bit_length", "btrim", "char_length", "character_length", "chr", "concat", "concat_ws",
      "convert", "convert_from", "convert_to", "decode", "encode", "format", "initcap", "left", "length",
      "lower", "lpad", "ltrim", "md5", "normalize", "is_normalized", "octet_length", "overlay", "position",
      "quote_ident", "quote_literal", "quote_nullable", "regexp_count", "regexp_instr", "regexp_like",
      "regexp_match", "regexp_matches", "regexp_replace", "regexp_split_to_array", "regexp_split_to_table",
      "regexp_substr", "repeat", "replace", "reverse", "right", "rpad", "rtrim", "split_part", "starts_with",
      "strpos", "substr", "substring", "to_ascii", "to_hex", "translate", "upper", "unistr", "sha224", "sha256",
      "sha384", "sha512", "similar_to_escape", "similar_escape", "string_to_array", "string_to_table",
      "bit_count", "get_bit", "get_byte", "set_bit", "set_byte", "crc32", "crc32c",
      // numbers
      "abs", "cbrt", "ceil", "ceiling", "degrees", "div", "exp", "factorial", "floor", "gcd", "lcm", "ln", "log",
      "log10", "min_scale", "mod", "pi", "power", "pow", "radians", "round", "scale", "sign", "sqrt", "trim_scale",
      "trunc", "width_bucket", "random", "acos", "asin", "atan", "atan2", "cos", "cot", "sin", "tan", "acosd",
      "asind", "atand", "atan2d", "cosd", "cotd", "sind", "tand", "sinh", "cosh", "tanh", "asinh", "acosh",
      "atanh", "to_number",
      // date and time
      "age", "clock_timestamp", "date_bin", "date_part", "date_trunc", "extract", "isfinite", "justify_days",
      "justify_hours", "justify_interval", "make_date", "make_interval", "make_time", "make_timestamp",
      "make_timestamptz", "now", "statement_timestamp", "timeofday", "transaction_timestamp", "to_timestamp",
      "to_date", "to_char", "timezone", "overlaps",
      // json and jsonb
      "to_json", "to_jsonb", "array_to_json", "row_to_json", "json_build_array", "json_build_object",
      "jsonb_build_array", "jsonb_build_object", "json_object", "jsonb_object", "json_array_length",
      "jsonb_array_length", "json_each", "jsonb_each", "json_each_text", "jsonb_each_text", "json_extract_path",
      "jsonb_extract_path", "json_extract_path_text", "jsonb_extract_path_text", "json_object_keys",
      "jsonb_object_keys", "json_populate_record", "jsonb_populate_record", "json_populate_recordset",
      "jsonb_populate_recordset", "json_array_elements", "jsonb_array_elements", "json_array_elements_text",
      "jsonb_array_elements_text", "json_typeof", "jsonb_typeof", "json_to_record", "jsonb_to_record",
      "json_to_recordset", "jsonb_to_recordset", "json_strip_nulls", "jsonb_strip_nulls", "jsonb_set",
      "jsonb_set_lax", "jsonb_insert", "jsonb_pretty", "jsonb_path_exists", "jsonb_path_match",
      "jsonb_path_query", "jsonb_path_query_array", "jsonb_path_query_first", "jsonb_path_exists_tz",
      "jsonb_path_match_tz", "jsonb_path_query_tz", "jsonb_path_query_array_tz", "jsonb_path_query_first_tz",
      // arrays and set-returning
      "array_append", "array_cat", "array_dims", "array_fill", "array_length", "array_lower", "array_ndims",
      "array_position", "array_positions", "array_prepend", "array_remove", "array_replace", "array_to_string",
      "array_upper", "cardinality", "trim_array", "unnest", "generate_series", "generate_subscripts",
      // xml that reads no table and runs no SQL
      "xpath", "xpath_exists", "xml_is_well_formed", "xml_is_well_formed_document", "xml_is_well_formed_content",
      "xmlcomment",
      // text search (ts_stat and ts_rewrite(query, text) are left out: they run SQL given as text)
      "to_tsvector", "to_tsquery", "plainto_tsquery", "phraseto_tsquery", "websearch_to_tsquery", "ts_rank",
      "ts_rank_cd", "ts_headline", "setweight", "strip", "tsvector_to_array", "array_to_tsvector", "numnode",
      "querytree", "ts_lexize", "ts_debug", "ts_delete", "ts_filter",
      // ranges and network types
      "isempty", "lower_inc", "upper_inc", "lower_inf", "upper_inf", "range_merge", "int4range", "int8range",
      "numrange", "tsrange", "tstzrange", "daterange", "host", "masklen", "network", "broadcast", "family",
      "abbrev", "set_masklen", "netmask", "hostmask", "inet_same_family", "inet_merge",
      // type conversions in function syntax
      "int2", "int4", "int8", "float4", "float8", "numeric", "text", "varchar", "bpchar", "bool", "date", "time",
      "timestamp", "timestamptz", "interval", "bytea", "uuid", "json", "jsonb", "inet", "cidr", "name", "oid",
      // session and catalog information (read-only; psql's \d commands use these)
      "num_nonnulls", "num_nulls", "pg_typeof", "gen_random_uuid", "version", "current_setting",
      "current_database", "current_schema", "current_schemas", "pg_backend_pid", "pg_is_in_recovery",
      "pg_postmaster_start_time", "pg_conf_load_time", "inet_client_addr", "inet_client_port",
      "inet_server_addr", "inet_server_port", "pg_get_userbyid", "pg_get_expr", "pg_get_indexdef",
      "pg_get_constraintdef", "pg_get_triggerdef", "pg_get_viewdef", "pg_get_ruledef", "pg_get_functiondef",
      "pg_get_function_arguments", "pg_get_function_result", "pg_get_function_identity_arguments",
      "pg_get_function_sqlbody", "pg_get_partkeydef", "pg_get_partition_constraintdef",
      "pg_get_statisticsobjdef_columns", "pg_get_serial_sequence", "pg_get_keywords", "format_type",
      "pg_table_is_visible", "pg_type_is_visible", "pg_function_is_visible", "pg_operator_is_visible",
      "pg_opclass_is_visible", "pg_collation_is_visible", "pg_conversion_is_visible",
      "pg_ts_config_is_visible", "pg_ts_dict_is_visible", "pg_ts_parser_is_visible",
      "pg_ts_template_is_visible", "pg_statistics_obj_is_visible", "obj_description", "col_description",
      "shobj_description", "pg_relation_size", "pg_total_relation_size", "pg_table_size", "pg_indexes_size",
      "pg_database_size", "pg_tablespace_size", "pg_column_size", "pg_size_pretty", "pg_size_bytes",
      "pg_encoding_to_char", "pg_char_to_encoding", "pg_tablespace_location", "pg_relation_filenode",
      "pg_collation_for", "to_regclass", "to_regtype", "to_regproc", "to_regprocedure", "to_regoper",
      "to_regoperator", "to_regnamespace", "to_regrole", "to_regcollation", "has_any_column_privilege",
      "has_column_privilege", "has_database_privilege", "has_foreign_data_wrapper_privilege",
      "has_function_privilege", "has_language_privilege", "has_parameter_privilege", "has_schema_privilege",
      "has_sequence_privilege", "has_server_privilege", "has_table_privilege", "has_tablespace_privilege",
      "has_type_privilege", "pg_has_role", "row_security_active", "currval", "lastval",
      // ... and what pg_dump, psql's \dd \dO \dA* \dconfig and the system views call (round 9)
      "acldefault", "aclexplode", "pg_options_to_table", "getdatabaseencoding", "pg_client_encoding",
      "pg_opfamily_is_visible", "pg_describe_object", "pg_identify_object", "pg_identify_object_as_address",
      "pg_get_object_address", "pg_my_temp_schema", "pg_is_other_temp_schema", "pg_relation_is_updatable",
      "pg_column_is_updatable", "pg_show_all_settings", "pg_settings_get_flags", "pg_timezone_names",
      "pg_timezone_abbrevs", "pg_sequence_last_value", "pg_sequence_parameters", "pg_get_statisticsobjdef",
      "pg_get_statisticsobjdef_expressions", "pg_get_replica_identity_index", "pg_lock_status",
      "pg_blocking_pids", "pg_safe_snapshot_blocking_pids", "pg_available_extensions",
      "pg_available_extension_versions", "pg_jit_available",
      // partitions and publications, as psql's \d asks for them (catalog reads)
      "pg_partition_ancestors", "pg_partition_root", "pg_partition_tree", "pg_relation_is_publishable",
      // transaction ids and snapshots (read-only, even when they assign an id)
      "txid_current", "txid_current_if_assigned", "txid_current_snapshot", "txid_snapshot_xmin",
      "txid_snapshot_xmax", "txid_snapshot_xip", "txid_visible_in_snapshot", "txid_status",
      "pg_current_xact_id", "pg_current_xact_id_if_assigned", "pg_current_snapshot", "pg_snapshot_xmin",
      "pg_snapshot_xmax", "pg_snapshot_xip", "pg_visible_in_snapshot", "pg_xact_status",
      // geometry, conversions and ranges whose names are column names too (width, area, point …):
      // pure, and b.width may call width(b) (attribute notation), which would otherwise count as a call
      "area", "box", "center", "circle", "diagonal", "diameter", "height", "width", "lseg", "path", "point",
      "polygon", "radius", "npoints", "isopen", "isclosed", "ishorizontal", "isvertical", "box_center",
      "circle_center", "lseg_center", "poly_center", "lseg_length", "path_length", "char", "money", "xml",
      "xid", "timetz", "macaddr", "macaddr8", "regclass", "textlen", "multirange", "int4multirange",
      "int8multirange", "nummultirange", "datemultirange", "tsmultirange", "tstzmultirange", "cash_words",
      "parse_ident",
      // hashes and the WAL position (read-only; round 18c: refused as opaque code)
      "hashtext", "pg_current_wal_lsn", "pg_wal_lsn_diff", "pg_xact_commit_timestamp", "pg_lsn",
      // waiting: holds the connection (and what its transaction locked) as any long query does
      "pg_sleep", "pg_sleep_for", "pg_sleep_until");

  /**
   * Advisory locks: known, but {@code LOCKING}, since other sessions wait for them as for {@code
   * SELECT … FOR UPDATE}'s (and a session-level one outlives the transaction).
   */
  static final Set<String> ADVISORY_LOCKS = Set.of(
      "pg_advisory_lock", "pg_advisory_lock_shared", "pg_try_advisory_lock", "pg_try_advisory_lock_shared",
      "pg_advisory_xact_lock", "pg_advisory_xact_lock_shared", "pg_try_advisory_xact_lock",
      "pg_try_advisory_xact_lock_shared", "pg_advisory_unlock", "pg_advisory_unlock_shared", "pg_advisory_unlock_all");

  /** Functions that send a notification: known, but of kind {@code NOTIFY}, as the statement is. */
  static final Set<String> NOTIFIES = Set.of("pg_notify");

  /** Server-side files and large objects: {@code FILE_ACCESS} (and {@code OPAQUE_CODE}, being non-harmless). */
  static final Set<String> FILE_ACCESS = Set.of(
      "pg_read_file", "pg_read_binary_file", "pg_ls_dir", "pg_stat_file", "pg_ls_logdir", "pg_ls_waldir",
      "pg_ls_tmpdir", "pg_ls_archive_statusdir", "pg_ls_logicalsnapdir", "pg_ls_logicalmapdir",
      "pg_ls_replslotdir", "pg_current_logfile", "pg_file_write", "pg_file_rename", "pg_file_unlink",
      "pg_file_sync", "pg_logdir_ls", "lo_import", "lo_export", "lo_unlink", "lo_open", "lo_close", "lo_create",
      "lo_creat", "lo_put", "lo_get", "lo_from_bytea", "lo_truncate", "lo_truncate64", "loread", "lowrite",
      "lo_lseek", "lo_lseek64", "lo_tell", "lo_tell64");

  /**
   * Built-ins that write a sequence and nothing else: {@code DATA_MODIFYING}, not {@code
   * OPAQUE_CODE} (what they do is known; ORMs call {@code nextval} for every new row's id).
   */
  static final Set<String> SEQUENCE_WRITES = Set.of("nextval", "setval");

  /** {@code information_schema}'s own helpers that drivers call (pgjdbc's primary keys): SQL over the catalog. */
  static final Set<String> HARMLESS_INFORMATION_SCHEMA = Set.of("_pg_expandarray", "_pg_index_position",
      "_pg_truetypid", "_pg_truetypmod", "_pg_char_max_length", "_pg_char_octet_length", "_pg_numeric_precision",
      "_pg_numeric_precision_radix", "_pg_numeric_scale", "_pg_datetime_precision", "_pg_interval_type");

  /**
   * PostgreSQL 15's built-in functions callable with one argument (the resource file says how the
   * list was made). Attribute notation calls them: {@code (x).f} and {@code a.b.f} are {@code f(x)}
   * and {@code f(a.b)} when {@code f} is not a field of the value, whatever its type (round 18c:
   * {@code ('s'::regclass).nextval}, {@code (0::oid).lo_create}, {@code (pid).pg_terminate_backend}).
   */
  static final Set<String> ONE_ARGUMENT_BUILTINS = loadNames("one-argument-builtins.txt");

  private static Set<String> loadNames(String resource) {
    try (java.io.InputStream in = Functions.class.getResourceAsStream(resource)) {
      if (in == null) throw new IllegalStateException("missing resource " + resource);
      Set<String> names = new java.util.HashSet<>();
      for (String line : new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).split("\n")) {
        String name = line.strip();
        if (!name.isEmpty() && !name.startsWith("#")) names.add(name);
      }
      return Set.copyOf(names);
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  /**
   * Whether a name written where a field or column may stand (after a dot) may call a function
   * Gatehouse must see: a non-harmless built-in callable with one argument, or a name on one of the
   * lists of functions with a flag of their own (extensions' included: dblink, pgcrypto, adminpack).
   */
  static boolean calledByAttribute(String name) {
    if (HARMLESS.contains(name)) return false;
    return ONE_ARGUMENT_BUILTINS.contains(name) || FILE_ACCESS.contains(name) || WRITES.contains(name)
        || SQL_AS_STRING.contains(name) || SECRET_ARGUMENTS.containsKey(name) || ADVISORY_LOCKS.contains(name);
  }

  /** Functions that write data: {@code DATA_MODIFYING}. */
  static final Set<String> WRITES = Set.of(
      "nextval", "setval", "lo_import", "lo_unlink", "lo_create", "lo_creat", "lo_put", "lo_from_bytea",
      "lo_truncate", "lo_truncate64", "lowrite", "pg_file_write", "pg_file_rename", "pg_file_unlink");

  /**
   * Functions that run SQL, or read a table, named by a string argument (or over the network).
   * Not harmless, so {@code OPAQUE_CODE}; listed so the documentation can name them.
   */
  static final Set<String> SQL_AS_STRING = Set.of(
      "query_to_xml", "query_to_xmlschema", "query_to_xml_and_xmlschema", "table_to_xml", "table_to_xmlschema",
      "table_to_xml_and_xmlschema", "cursor_to_xml", "cursor_to_xmlschema", "schema_to_xml",
      "schema_to_xmlschema", "schema_to_xml_and_xmlschema", "database_to_xml", "database_to_xmlschema",
      "database_to_xml_and_xmlschema", "ts_stat", "ts_rewrite", "dblink", "dblink_exec", "dblink_open",
      "dblink_fetch", "dblink_send_query", "dblink_connect", "dblink_connect_u");

  /** Settings functions: {@code SETTING_CHANGE} (and more, depending on the setting named). */
  static final Set<String> SETTINGS = Set.of("set_config");

  /** Argument positions (0-based) that carry a secret; -1 means every argument. */
  static final Map<String, int[]> SECRET_ARGUMENTS = Map.ofEntries(
      Map.entry("dblink_connect", new int[] {-1}),
      Map.entry("dblink_connect_u", new int[] {-1}),
      Map.entry("dblink", new int[] {0}),
      Map.entry("dblink_exec", new int[] {0}),
      Map.entry("dblink_send_query", new int[] {0}),
      Map.entry("pgp_sym_encrypt", new int[] {1}),
      Map.entry("pgp_sym_encrypt_bytea", new int[] {1}),
      Map.entry("pgp_sym_decrypt", new int[] {1}),
      Map.entry("pgp_sym_decrypt_bytea", new int[] {1}),
      Map.entry("pgp_pub_encrypt", new int[] {1}),
      Map.entry("pgp_pub_encrypt_bytea", new int[] {1}),
      Map.entry("pgp_pub_decrypt", new int[] {1, 2}),
      Map.entry("pgp_pub_decrypt_bytea", new int[] {1, 2}),
      Map.entry("encrypt", new int[] {1}),
      Map.entry("decrypt", new int[] {1}),
      Map.entry("encrypt_iv", new int[] {1, 2}),
      Map.entry("decrypt_iv", new int[] {1, 2}),
      Map.entry("hmac", new int[] {1}),
      Map.entry("crypt", new int[] {0}));

  /** Setting names (lower-case) that change how the server reads later text. */
  static final Set<String> PARSING_SETTINGS = Set.of("client_encoding", "standard_conforming_strings", "backslash_quote");

  /**
   * The settings that steer which plan PostgreSQL 15 picks (its "Query Planning" settings, and the
   * memory and parallelism ones its cost model reads), besides every {@code enable_*} and {@code
   * *_cost} setting: with them a session can force a plan through an index, whose rows come back in
   * the index's order.
   */
  private static final Set<String> PLANNER_SETTINGS = Set.of("effective_cache_size", "effective_io_concurrency",
      "maintenance_io_concurrency", "min_parallel_table_scan_size", "min_parallel_index_scan_size",
      "max_parallel_workers_per_gather", "max_parallel_workers", "force_parallel_mode", "debug_parallel_query",
      "default_statistics_target", "constraint_exclusion", "cursor_tuple_fraction", "from_collapse_limit",
      "join_collapse_limit", "plan_cache_mode", "jit", "work_mem", "hash_mem_multiplier", "geqo", "geqo_threshold",
      "geqo_effort", "geqo_pool_size", "geqo_generations", "geqo_selection_bias", "geqo_seed",
      "recursive_worktable_factor", "seq_page_cost", "random_page_cost",
      "sort_mem"); // work_mem's old name, which PostgreSQL still takes (review round 25)

  /** Whether {@code name} (lower case) is a setting that steers the planner (see {@link #PLANNER_SETTINGS}). */
  static boolean plannerSetting(String name) {
    return name.startsWith("enable_") || name.endsWith("_cost") || PLANNER_SETTINGS.contains(name);
  }

  /**
   * Whether {@code value}, one string constant given to {@code SET name}, is the value Gatehouse
   * fixes {@code name} to for the session (client_encoding UTF8, standard_conforming_strings on), as
   * PostgreSQL 15 reads it: such a SET changes nothing (pg_dump's and pg_restore's preamble, psql's
   * {@code \encoding UTF8}). An encoding name is compared as {@code clean_encoding_name} does, ASCII
   * letters and digits lower-cased and everything else dropped ({@code 'UTF-8'}, {@code 'unicode'});
   * a name with any other character is refused, since the server's locale decides whether it counts.
   * A Boolean is read as {@code parse_bool}: {@code on}, {@code 1}, and the prefixes of {@code true}
   * and {@code yes}, in any case; no blanks. Anything else is not that value.
   */
  static boolean fixedParsingValue(String name, String value) {
    return switch (name) {
      case "client_encoding" -> {
        StringBuilder key = new StringBuilder();
        for (int i = 0; i < value.length(); i++) {
          char c = value.charAt(i);
          if (c >= 0x80) yield false;
          if (Character.isLetterOrDigit(c)) key.append(Character.toLowerCase(c));
        }
        yield key.toString().equals("utf8") || key.toString().equals("unicode");
      }
      case "standard_conforming_strings" -> {
        String v = value.toLowerCase(Locale.ROOT);
        yield v.equals("on") || v.equals("1") || !v.isEmpty() && ("true".startsWith(v) || "yes".startsWith(v));
      }
      default -> false;
    };
  }

  /** Setting names (lower-case) that change who the session acts as. */
  static final Set<String> ROLE_SETTINGS = Set.of("role", "session_authorization");

  /**
   * True when a setting's name suggests its value is a secret: a password, secret, token, key
   * ({@code my.api_key}, {@code app.apikey}: review round 44), credential, passphrase or private
   * value. Over-redaction only hides a harmless value from the audit log (ssl_key_file's path).
   */
  static boolean secretSetting(String name) {
    String n = name.toLowerCase(java.util.Locale.ROOT);
    return n.contains("password") || n.contains("passwd") || n.contains("secret") || n.contains("token")
        || n.contains("key") || n.contains("credential") || n.contains("passphrase") || n.contains("private");
  }

  /**
   * Operators of the built-in types that only compare or compute. An operator not on this list (or
   * written {@code OPERATOR(schema.op)} with a schema other than pg_catalog) may be user-defined
   * and run any function: {@code OPAQUE_CODE}.
   */
  static final Set<String> OPERATORS = Set.of(
      "=", "<>", "!=", "<", ">", "<=", ">=", "+", "-", "*", "/", "%", "^", "||", "|/", "||/", "@", "&", "|", "#",
      "~", "<<", ">>", "~~", "!~~", "~~*", "!~~*", "!~", "~*", "!~*", "@>", "<@", "&&", "->", "->>", "#>", "#>>",
      "?", "?|", "?&", "#-", "@?", "@@", "@@@", "^@", "-|-", "&<", "&>", "<<|", "|>>", "&<|", "|&>", "<->", "##",
      "<<=", ">>=", "<^", ">^", "?#", "?-", "?-|", "?||", "~=", "!!");
}
