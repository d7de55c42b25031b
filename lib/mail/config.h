/*
 * config.h - main.cf parameters: loading, expansion, typed access
 *
 * Used by: every daemon and command.
 * Interface: config_load(), config_dir(), config_override(), config_set(),
 *            cfg_str(), cfg_raw(), cfg_is_set(), cfg_bool(), cfg_int(),
 *            cfg_long(), cfg_time(), cfg_size(), cfg_expand(), cfg_list(),
 *            config_known(), config_check().
 * Errors: a syntax error in main.cf is reported as "FILE:LINE: what" through
 *         log_warn and config_load() returns -1; typed accessors log_fatal on a
 *         value that does not parse or is out of bounds, naming the parameter.
 * Notes: values come from (highest first) -o overrides, main.cf, and the
 *        built-in default from the parameter table (params.h / param_table.c).
 *        $name, ${name}, ${name?value}, ${name:value} (and $(name)) expand when
 *        a value is read through cfg_str()/cfg_expand(). Names not in the table
 *        (e.g. TRANSPORT_destination_concurrency_limit) are accepted when set.
 */
#ifndef POSTERN_CONFIG_H
#define POSTERN_CONFIG_H
#include "sys_compat.h"
#include "params.h"

/* Reads DIR/main.cf; dir NULL means $MAIL_CONFIG, else the compiled default
 * (/etc/postfix). Returns 0, or -1 after logging "file:line: ..." errors.
 * Safe to call again (reload): previous main.cf values are dropped, -o
 * overrides are kept. */
int config_load(const char *dir);
/* The configuration directory in use (borrowed). */
const char *config_dir(void);
/* Sets a per-service override (-o name=value); wins over main.cf. */
void config_override(const char *name, const char *value);
/* Sets a value as if read from main.cf (postconf -e, tests). */
void config_set(const char *name, const char *value);

/* Expanded value of name (borrowed, valid until the next config_load or
 * until the same parameter is set again). Unknown and unset: "". */
const char *cfg_str(const char *name);
/* Value before $name expansion; NULL when unknown and unset. */
const char *cfg_raw(const char *name);
/* True when name is set in main.cf or by -o. */
bool cfg_is_set(const char *name);
/* For per-transport parameters: value of name if set, else of fallback. */
const char *cfg_str_or(const char *name, const char *fallback);
bool cfg_bool(const char *name);
int cfg_int(const char *name);
long cfg_long(const char *name);
/* Time in seconds; a bare number uses the parameter's default unit. */
long cfg_time(const char *name);
/* Like cfg_time for a name that may be unset: uses fallback param's value. */
long cfg_time_or(const char *name, const char *fallback);
long cfg_long_or(const char *name, const char *fallback);
/* Byte count (same as cfg_long, kept for readability). */
long cfg_size(const char *name);
/* Expands $name references in text; returns new string. */
char *cfg_expand(const char *text);
/* Splits a list value on white space and commas into a NULL-terminated
 * array (returns new; free with cfg_list_free). Braced {..} items stay whole. */
char **cfg_list(const char *value);
/* "name = value" (the inside of a "{ name = value }") as "name=value": the
 * blanks around the first '=' removed. Text without '=' is copied. Returns
 * new. Used for master.cf -o options and environment lists. */
char *config_norm_assign(const char *text);
void cfg_list_free(char **list);
/* True when param (e.g. "smtpd_access_maps") is named in
 * parent_domain_matches_subdomains: its tables match a domain's parents. */
bool cfg_parent_matches(const char *param);

/* True for a character that may appear in a parameter name as written in
 * main.cf, master.cf -o or postconf: printable, not white space, not '='. */
bool config_name_char(int c);

/* True when name is a parameter Postfix defines (table) or a per-transport
 * pattern (TRANSPORT_xxx for a transport in master.cf). */
bool config_known(const char *name);

/* The address families an inet_protocols value asks for ("all", "ipv4",
 * "ipv6", or both names); a value that names neither gives IPv4. */
void cfg_inet_protocols(const char *value, bool *want4, bool *want6);

/* One main.cf entry as read, for postconf -n and postfix check. */
struct config_entry {
    const char *name;
    const char *value;  /* raw */
    const char *file;
    int line;
};
/* Calls fn(name) for each $name, ${name...} or $(name) reference in text
 * (name borrowed for the call). */
void config_scan_refs(const char *text, void (*fn)(const char *name, void *ctx), void *ctx);
/* Calls fn for each main.cf entry in file order. */
void config_foreach(void (*fn)(const struct config_entry *e, void *ctx), void *ctx);

/* Additions (config.c owner). */

/* Warns "FILE:LINE: unused parameter: name=value" for each main.cf name that
 * config_known() rejects. Returns 0, or -1 when something was reported. */
int config_check(void);
/* Reads main.cf-format text from fp as if it were main.cf (path is used in
 * messages). Returns 0, or -1 after logging "path:line: ..." errors. */
int config_read_stream(FILE *fp, const char *path);
/* Path of the main.cf last loaded (borrowed; NULL before config_load). */
const char *config_file(void);
/* Built-in default of a table parameter (borrowed; run-time computed for
 * myhostname, mydomain, mynetworks, process_id, process_name); NULL when not
 * in the table. */
const char *config_default(const char *name);
/* Forgets a main.cf value (postconf -X). */
void config_unset(const char *name);
/* Drops every -o override. */
void config_clear_overrides(void);
/* True when name has a -o override. */
bool cfg_is_overridden(const char *name);
/* True when name has a main.cf value; fills *file and *line when non-NULL. */
bool cfg_in_main_cf(const char *name, const char **file, int *line);
/* Strict parsers: yes/no/true/false (any case); decimal integer; number with
 * an optional unit s/m/h/d/w (unit is the default unit, 0 = seconds). They
 * return false on junk, overflow or an empty string. */
bool config_parse_bool(const char *s, bool *out);
bool config_parse_long(const char *s, long *out);
bool config_parse_time(const char *s, char unit, long *out);
/* Sets the master.cf service names that make TRANSPORT_xxx names known
 * (copied; NULL clears). */
void config_set_service_names(char **names);
/* NULL-terminated list of the per-transport suffixes ("_destination_
 * concurrency_limit", ...) that config_known() accepts after a service name. */
const char *const *config_service_suffixes(void);
/* Default (raw) of a table parameter or of SERVICE_suffix for a service set
 * by config_set_service_names() ("$default_destination_concurrency_limit"
 * etc.); NULL for other names. Such names then read through cfg_str() with
 * that default. Borrowed. */
const char *config_service_default(const char *name);

#endif
