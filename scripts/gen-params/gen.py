#!/usr/bin/env python3
# gen.py - generate lib/mail/params.h and lib/mail/param_table.c
#
# Input: postfix-3.7-defaults.txt beside this script ("name = default" lines,
# the facts of Postfix 3.7's parameter set). Postern's own defaults for the
# host- and install-dependent parameters are applied below (OVERRIDE), the
# type of each parameter is inferred from its name and default and then
# corrected by hand (TYPE_FIX). Run from the repository root:
#     python3 scripts/gen-params/gen.py
# The output is committed; the build never runs this script.
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

# name -> C expression (string literal or macro concatenation)
OVERRIDE = {
    'myhostname': '""',                      # computed at run time (config.c)
    'mydomain': '""',                        # computed at run time (config.c)
    'mynetworks': '""',                      # computed at run time (config.c)
    'process_id': '""',                      # run time
    'process_name': '""',                    # run time
    'mydestination': '"$myhostname, localhost.$mydomain, localhost"',
    'daemon_directory': 'DEF_PREFIX "/libexec/postern"',
    'command_directory': 'DEF_PREFIX "/sbin"',
    'config_directory': '"/etc/postfix"',
    'queue_directory': '"/var/spool/postfix"',
    'data_directory': '"/var/lib/postfix"',
    'meta_directory': '"$config_directory"',
    'shlib_directory': '"no"',
    'mail_version': 'POSTERN_VERSION',
    'mail_name': 'POSTERN_MAIL_NAME',
    'compatibility_level': '"3.6"',
    'sendmail_path': 'DEF_PREFIX "/sbin/sendmail"',
    'newaliases_path': 'DEF_PREFIX "/bin/newaliases"',
    'mailq_path': 'DEF_PREFIX "/bin/mailq"',
    'html_directory': '"no"',
    'readme_directory': '"no"',
    'manpage_directory': 'DEF_PREFIX "/share/man"',
    'sample_directory': '"/etc/postfix"',
    'mail_owner': '"postfix"',
    'setgid_group': '"postdrop"',
    'default_database_type': '"hash"',
    'alias_maps': '"hash:/etc/aliases"',
    'alias_database': '"hash:/etc/aliases"',
    # Deliberate policy: refuse bare LF in SMTP input from clients outside
    # smtpd_forbid_bare_newline_exclusions (SMTP smuggling). Postfix 3.7 says
    # "no" here and 3.9+ says "normalize"; smtpd(8) documents our choice.
    'smtpd_forbid_bare_newline': '"yes"',
}

# Parameters that are not Postfix's but that real main.cf files carry and
# Postern honours: the third-party "VDA" quota patch for virtual(8), as used
# by /work/shared/reference/d3xt3r01/main.cf (see virtual/virtual.h).
# name -> (type, default); they are listed in the table like any other
# parameter, so postfix check and postconf know them.
EXTRA = {
    'virtual_create_maildirsize': ('BOOL', 'no'),
    'virtual_mailbox_extended': ('BOOL', 'no'),
    'virtual_mailbox_limit_inbox': ('BOOL', 'no'),
    'virtual_mailbox_limit_maps': ('LIST', ''),
    'virtual_mailbox_limit_override': ('BOOL', 'no'),
    'virtual_maildir_extended': ('BOOL', 'no'),
    'virtual_maildir_limit_message': (
        'STR', "Sorry, the user's maildir has overdrawn his diskspace quota, "
               "please try again later."),
    'virtual_maildir_suffix': ('STR', ''),
    'virtual_overquota_bounce': ('BOOL', 'no'),
    'virtual_trash_count': ('BOOL', 'no'),
    'virtual_trash_name': ('STR', '.Trash'),
}

# Postern's own parameters (not Postfix's, not a patch's): native DKIM
# signing in cleanup(8), docs/dkim.md, and the scheduling policy of the
# daemons (lib/mail/mail_sched.h). name -> (type, default, description
# for postconf(5)). They join EXTRA below.
POSTERN = {
    'postern_dkim_enable': (
        'BOOL', 'no',
        'Sign mail with DKIM in cleanup(8). Mail is signed when its From: header '
        'domain has keys in postern_dkim_key_maps and it comes from a client that '
        'postern_dkim_sign_clients allows.'),
    'postern_dkim_key_maps': (
        'LIST', '',
        'Lookup tables (any type, including mysql:) keyed by the signing domain, the '
        'domain of the From: header address (then its parent domains with a leading '
        'dot, as in \\fI.example.org\\fR). The value is one or more '
        'selector:algorithm:/path/to/key entries separated by commas or spaces; '
        'algorithm is rsa (a PEM private key, rsa-sha256) or ed25519 (a file holding the '
        'base64 32-byte Ed25519 seed, ed25519-sha256 of RFC 8463). One DKIM-Signature '
        'header is added per entry. The key files must be readable by mail_owner.'),
    'postern_dkim_headers': (
        'LIST', 'From, To, Cc, Subject, Date, Message-ID, Reply-To, MIME-Version, '
                'Content-Type, In-Reply-To, References',
        'Header names to sign (every instance of each that the message has).'),
    'postern_dkim_oversign': (
        'LIST', 'From',
        'Header names signed once more than the message has them, so that a copy '
        'added later breaks the signature.'),
    'postern_dkim_canonicalization': (
        'STR', 'relaxed/relaxed',
        'Header/body canonicalization: relaxed or simple each (RFC 6376 3.4); a single '
        'word applies to the header and simple to the body.'),
    'postern_dkim_sign_clients': (
        'LIST', 'permit_mynetworks, permit_sasl_authenticated, permit_local_submission',
        'Which mail is signed: permit_mynetworks (SMTP clients in mynetworks), '
        'permit_sasl_authenticated (SMTP clients that logged in), '
        'permit_local_submission (sendmail and postdrop, through pickup).'),
    'postern_batch_scheduling': (
        'BOOL', 'yes',
        'Run master and the daemons it starts under the Linux SCHED_BATCH CPU '
        'scheduling policy (sched(7)): the same CPU share and nice value, but a '
        'process that is woken (by a socket write from the previous process in the '
        'mail flow) waits for the running one to block or use up its time slice '
        'instead of preempting it. That saves about a fifth of the context switches '
        'per message under load. Commands that local(8) and pipe(8) run inherit the '
        'policy. Specify no for the normal policy (SCHED_OTHER). A real-time or idle '
        'policy given to master with chrt(1) is kept. Per-service -o settings in '
        'master.cf apply to that service\'s processes.'),
    'postern_queue_file_recycling': (
        'INT', '64',
        'How many files of delivered messages qmgr(8) keeps in $queue_directory/recycle '
        'for cleanup(8) to reuse for new messages, instead of removing each file and '
        'creating a new one: 0 to 4096, 0 for Postfix\'s way (remove, create); files of '
        'messages over 1 MB are always removed. Reuse '
        'saves the file system\'s work of allocating and freeing a file (an inode) per '
        'message, which on ext4 without a journal grows with the number of files freed '
        'in the last minutes. A reused file is overwritten from its start, cut to its new '
        'length and fsynced like a new one, and is marked incomplete before any queue scan '
        'can see it; a message\'s queue ID is new whether or not its file is reused.'),
    'postern_delivery_priority': (
        'INT', '10',
        'How much lower than master\'s the nice value (see nice(1)) of qmgr(8) and '
        'of the local(8), virtual(8), pipe(8), discard(8) and error(8) delivery '
        'agents is: 0 to 20, 0 for the same. A burst of incoming mail keeps many '
        'smtpd(8) and cleanup(8) processes busy; at the same priority the queue '
        'manager and these agents wait behind them for the CPU at every hand-off, '
        'and local delivery falls far behind arrival until the burst is over. '
        'They use little CPU per message. smtp(8) and lmtp keep master\'s value '
        '(their TLS work can be heavy). Commands that local(8) and pipe(8) run get '
        'master\'s value back before they start. A -o setting on a master.cf line '
        'applies to that service\'s processes, whichever service it is (smtp, '
        'smtpd and the others get the lower value only that way).'),
}
for _n, (_t, _d, _) in POSTERN.items():
    EXTRA[_n] = (_t, _d)

# Postfix's old name for smtp_fallback_relay (before 2.3). Postfix 3.7 still
# honours it as that parameter's default ($fallback_relay) but no longer
# lists it; old main.cf files set it.
EXTRA['fallback_relay'] = ('STR', '')
# The same for smtpd_authorized_verp_clients (before 2.1): its default is
# $authorized_verp_clients, empty unless an old main.cf sets it.
EXTRA['authorized_verp_clients'] = ('LIST', '')

# Postfix's names from before 3.6 (denylist/allowlist) and 3.1 (dnsbl_ttl):
# Postfix 3.7 still honours them as the defaults of the new names
# ("${postscreen_blacklist_action?{$postscreen_blacklist_action}:{ignore}}")
# but no longer lists them; old main.cf files set them. Empty unless set.
LEGACY = ('postscreen_blacklist_action', 'postscreen_dnsbl_whitelist_threshold',
          'postscreen_dnsbl_ttl', 'postscreen_whitelist_interfaces')
for _n in LEGACY:
    EXTRA[_n] = ('STR', '')

# Parameters that are never $expanded when read (their values carry run-time
# $variables of their own).
RAW = {
    'command_execution_directory', 'default_rbl_reply', 'forward_path',
    'luser_relay', 'mailbox_command', 'postscreen_expansion_filter',
    'postscreen_reject_footer', 'smtpd_expansion_filter', 'smtpd_reject_footer',
}
READONLY = {'process_id', 'process_name', 'service_name'}
DYNAMIC = {'myhostname', 'mydomain', 'mynetworks', 'process_id', 'process_name'}

LONG = {
    'message_size_limit', 'mailbox_size_limit', 'virtual_mailbox_limit',
    'queue_minfree', 'berkeley_db_create_buffer_size',
    'berkeley_db_read_buffer_size', 'lmdb_map_size',
}
# (type, unit) corrections after inference.
TYPE_FIX = {
    'lmtp_tcp_port': 'STR', 'smtp_tcp_port': 'STR', 'milter_protocol': 'STR',
    'compatibility_level': 'STR', 'mail_release_date': 'STR',
    'mail_version': 'STR', 'process_id': 'STR', 'mynetworks': 'LIST',
    'mydestination': 'LIST', 'myhostname': 'STR', 'mydomain': 'STR',
    'smtpd_tls_loglevel': 'STR', 'smtp_tls_loglevel': 'STR',
    'lmtp_tls_loglevel': 'STR', 'tlsproxy_tls_loglevel': 'STR',
    'tlsproxy_client_loglevel': 'STR', 'postscreen_tls_security_level': 'STR',
    'default_destination_concurrency_negative_feedback': 'STR',
    'default_destination_concurrency_positive_feedback': 'STR',
    'mynetworks_style': 'STR', 'append_dot_mydomain': 'BOOL',
    'smtputf8_enable': 'BOOL', 'respectful_logging': 'BOOL',
    'smtpd_relay_before_recipient_restrictions': 'BOOL',
    'lmtp_per_request_deadline': 'BOOL', 'smtp_per_request_deadline': 'BOOL',
    'smtpd_per_request_deadline': 'BOOL', 'dont_remove': 'INT',
    'smtpd_tls_eecdh_grade': 'STR', 'stress': 'STR',
    'relay_domains': 'LIST', 'smtpd_relay_restrictions': 'LIST',
    'default_privs': 'STR', 'tls_config_file': 'STR',
    'smtpd_forbid_bare_newline': 'STR',     # no, normalize, yes or reject
}
# Lower bounds (Postfix refuses values below these).
MIN = {
    'default_process_limit': 1, 'max_idle': 1, 'max_use': 1,
    'queue_run_delay': 1, 'minimal_backoff_time': 1, 'maximal_backoff_time': 1,
    'hash_queue_depth': 1, 'ipc_timeout': 1, 'ipc_idle': 1, 'ipc_ttl': 1,
    'daemon_timeout': 1, 'trigger_timeout': 1, 'line_length_limit': 1,
    'header_size_limit': 1, 'hopcount_limit': 1, 'smtpd_recipient_limit': 1,
    'qmgr_message_active_limit': 1, 'qmgr_message_recipient_limit': 1,
    'qmgr_message_recipient_minimum': 1, 'initial_destination_concurrency': 1,
    'default_destination_recipient_limit': 1,
    'default_destination_concurrency_limit': 1, 'transport_retry_time': 1,
    'duplicate_filter_limit': 0, 'service_throttle_time': 1,
    'smtpd_timeout': 1, 'fork_attempts': 1, 'deliver_lock_attempts': 1,
    # an allow list's score is negative; any value is allowed (0 = off)
    'postscreen_dnsbl_allowlist_threshold': -2147483647,
    'postscreen_dnsbl_threshold': 1,
    'smtp_tls_scert_verifydepth': 1, 'lmtp_tls_scert_verifydepth': 1,
    'queue_file_attribute_count_limit': 1,
    'virtual_alias_address_length_limit': 1,
    'smtpd_tls_ccert_verifydepth': 1, 'tlsproxy_tls_ccert_verifydepth': 1,
}
MAX = {'hash_queue_depth': 16, 'default_verp_delimiters': 0, 'postern_delivery_priority': 20,
       'postern_queue_file_recycling': 4096,
       'in_flow_delay': 10}

LIST_SUFFIXES = ('_maps', '_restrictions', '_classes', '_domains', '_networks',
                 '_interfaces', '_protocols', '_checks', '_milters', '_keywords',
                 '_commands', '_exceptions', '_clients', '_hosts', '_sites',
                 '_digests', '_curves', '_workarounds', '_security_options',
                 '_macros', '_prefixes', '_environment', '_destinations',
                 '_names', '_users', '_exclusions', '_directories', '_transports',
                 '_extensions', '_maps_lookup_key_xx', '_action_xx')


def read_unimplemented():
    """docs/unimplemented-parameters.txt: NAME what-it-would-do, one a line.
    The one place that marks a parameter as not implemented."""
    out = {}
    with open(os.path.join(ROOT, 'docs/unimplemented-parameters.txt')) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith('#'):
                continue
            name, _, what = line.partition(' ')
            if name in out:
                raise SystemExit('unimplemented-parameters.txt: %s listed twice' % name)
            out[name] = what.strip()
    return out


def infer(name, dflt):
    if re.fullmatch(r'\d+[smhdw]', dflt) or re.search(r'\}[smhdw]$', dflt):
        return 'TIME', dflt[-1]
    if dflt in ('yes', 'no') or re.search(r'\{(yes|no)\}\}$', dflt):
        return 'BOOL', ''
    if re.fullmatch(r'\d+', dflt) or re.fullmatch(r'\$\{stress\?\{\d+\}:\{\d+\}\}', dflt) \
            or re.fullmatch(r'\$\{\w+\?\{\$\w+\}:\{\d+\}\}', dflt):
        return ('LONG' if name in LONG else 'INT'), ''
    if name.endswith(LIST_SUFFIXES) or ', ' in dflt:
        return 'LIST', ''
    return 'STR', ''


def cname(name):
    return name.upper()


def cstr(s):
    out = []
    for ch in s:
        if ch in '\\"':
            out.append('\\' + ch)
        elif ch == '?' :
            out.append('?')
        else:
            out.append(ch)
    return '"' + ''.join(out).replace('??', '?" "?') + '"'


TAIL = r"""const struct param_def *param_find(const char *name)
{
    size_t lo = 0, hi = param_table_count;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int cmp = strcmp(name, param_table[mid].name);

        if (cmp == 0)
            return &param_table[mid];
        if (cmp < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

void param_foreach(void (*fn)(const struct param_def *p, void *ctx), void *ctx)
{
    for (size_t i = 0; i < param_table_count; i++)
        fn(&param_table[i], ctx);
}

const char *param_type_name(enum param_type t)
{
    switch (t) {
    case PARAM_STR: return "string";
    case PARAM_BOOL: return "boolean";
    case PARAM_INT: return "integer";
    case PARAM_LONG: return "long";
    case PARAM_TIME: return "time";
    case PARAM_LIST: return "list";
    }
    return "string";
}
"""


def troff(s):
    s = s.replace('\\', '\\e')
    out = []
    for line in s.split('\n'):
        if line.startswith(('.', "'")):
            line = '\\&' + line
        out.append(line)
    return '\n'.join(out).replace('-', '\\-')


def man_default(name, dflt):
    if name in OVERRIDE:
        v = OVERRIDE[name]
        if v == '""':
            return '(computed at run time)' if name in DYNAMIC else ''
        v = v.replace('DEF_PREFIX ', '/usr').replace('POSTERN_VERSION', '(the Postern version)')
        v = v.replace('POSTERN_MAIL_NAME', 'Postfix').replace('"', '')
        return v
    return dflt


def write_man(params, types):
    sys.path.insert(0, HERE)
    from man_descriptions import DESCRIPTIONS
    m = []
    m.append('.\\" Generated by scripts/gen-params/gen.py; edit that script and')
    m.append('.\\" man_descriptions.py, not this file.')
    m.append('.TH POSTCONF 5 "2026" "Postern" "File Formats"')
    m.append('.SH NAME')
    m.append('postconf \\- Postern configuration parameters (main.cf)')
    m.append('.SH SYNOPSIS')
    m.append('.B /etc/postfix/main.cf')
    m.append('.br')
    m.append('.B postconf \\-n')
    m.append('.SH DESCRIPTION')
    m.append(troff("The file main.cf holds the global parameters of the mail system. Each "
                   "parameter is set on a logical line of the form name = value. White space "
                   "around the = is ignored, as is white space at the end of the line."))
    m.append('.PP')
    m.append(troff("A line that begins with white space continues the logical line above it; "
                   "the pieces are joined with one space. A line whose first non-blank "
                   "character is # is a comment, and empty lines are ignored; neither ends a "
                   "logical line. A # later in a line is part of the value. A line that is "
                   "not of the form name = value is reported as FILE:LINE: missing '=' after "
                   "parameter name, and the rest of the file is still used. When a name is "
                   "set twice, the later line wins."))
    m.append('.PP')
    m.append(troff("Values may refer to other parameters. $name and ${name} (also $(name)) "
                   "are replaced by the value of name, recursively. ${name?text} gives text "
                   "when name has a non-empty value and nothing otherwise; ${name:text} gives "
                   "text when name is empty. ${name?{text1}:{text2}} chooses between two "
                   "texts, and ${{a} op {b} ? {text1} : {text2}} compares two texts with ==, "
                   "!=, <, <=, >, >= (numbers) or <level, <=level, >level, >=level "
                   "(compatibility levels such as 3.6). $$ stands for a single dollar sign. "
                   "A name that is not set expands to nothing. A chain of references that "
                   "leads back to itself is a fatal error naming the parameter."))
    m.append('.PP')
    m.append(troff("Each daemon reads main.cf when it starts; postfix reload makes running "
                   "services pick up changes. A -o name=value option in master.cf overrides "
                   "a parameter for one service. postconf(1) lists and edits parameters."))
    m.append('.SH VALUE TYPES')
    m.append('.TP')
    m.append('.B time')
    m.append(troff("A number with an optional unit: s (seconds), m (minutes), h (hours), d "
                   "(days) or w (weeks). A bare number uses the unit shown in the "
                   "parameter's default (for example hours for delay_warning_time)."))
    m.append('.TP')
    m.append('.B boolean')
    m.append(troff("yes or no (true and false are also accepted, in any case)."))
    m.append('.TP')
    m.append('.B number')
    m.append(troff("A decimal integer; sizes are in bytes. Values outside a parameter's "
                   "bounds are fatal errors naming the parameter."))
    m.append('.TP')
    m.append('.B list')
    m.append(troff("Items separated by commas and/or white space. An item in braces, "
                   "{ ... }, may contain spaces and commas."))
    m.append('.SH PER-TRANSPORT PARAMETERS')
    m.append(troff("For each delivery service TRANSPORT in master.cf (one whose program is "
                   "smtp, lmtp, local, virtual, pipe or error), the queue manager also reads "
                   "TRANSPORT_destination_concurrency_limit, "
                   "TRANSPORT_destination_recipient_limit, TRANSPORT_destination_rate_delay, "
                   "TRANSPORT_initial_destination_concurrency, the "
                   "TRANSPORT_destination_concurrency_* feedback settings, "
                   "TRANSPORT_recipient_limit, TRANSPORT_extra_recipient_limit, "
                   "TRANSPORT_delivery_slot_cost/loan/discount, "
                   "TRANSPORT_minimum_delivery_slots, TRANSPORT_recipient_refill_limit/delay "
                   "and TRANSPORT_transport_rate_delay; pipe services also have "
                   "TRANSPORT_time_limit. Each defaults to the matching default_* parameter "
                   "(or initial_destination_concurrency, command_time_limit)."))
    m.append('.SH IMPORTANT PARAMETERS')
    byname = dict(params)
    for name in sorted(DESCRIPTIONS):
        if name not in byname:
            raise SystemExit('description for unknown parameter ' + name)
        t, unit = types[name]
        d = man_default(name, byname[name])
        m.append('.TP')
        m.append('.B ' + name)
        m.append(troff('(%s%s; default: %s)' % (
            {'STR': 'string', 'BOOL': 'boolean', 'INT': 'number', 'LONG': 'number',
             'TIME': 'time', 'LIST': 'list'}[t],
            (', unit %s' % unit) if unit else '', d if d else 'empty')))
        m.append('.br')
        m.append(troff(DESCRIPTIONS[name]))
        if name in UNIMPL:
            m.append('.br')
            m.append(troff('Not supported by Postern (see UNSUPPORTED PARAMETERS).'))
    m.append('.SH ALL PARAMETERS AND THEIR DEFAULTS')
    m.append(troff("Every parameter of Postfix 3.7 is accepted with its Postfix meaning. "
                   "postconf -d prints the same list with the defaults computed for this "
                   "host."))
    m.append('.PP')
    m.append('.nf')
    for name, dflt in params:
        if name in EXTRA:
            continue
        d = man_default(name, dflt)
        m.append(troff(('%s = %s' % (name, d)).rstrip()))
    m.append('.fi')
    m.append('.SH UNSUPPORTED PARAMETERS')
    m.append(troff("Postern accepts every name above, but does not implement the parameters "
                   "listed here. A setting other than the default, in main.cf or in a master.cf "
                   "-o option, is reported by postfix check, at postfix start and reload, and "
                   "by every daemon when it starts, as FILE:LINE: NAME is not supported by "
                   "Postern: followed by what the parameter would do. Where running without a "
                   "setting would weaken security or let mail through unchecked, Postern acts "
                   "as Postfix does when the feature is unavailable: smtpd_milter_maps counts "
                   "as unreachable milters (milter_default_action applies; with tempfail the "
                   "SMTP server answers MAIL FROM with 451 4.7.1); smtp_tls_per_site defers "
                   "deliveries by the smtp client as an unmet "
                   "encrypt policy does; smtp_sasl_auth_enable = yes defers them as a failed "
                   "login does; header_checks, body_checks, mime_header_checks and "
                   "nested_header_checks stop master (postfix start) and cleanup from "
                   "starting. The list is kept in docs/unimplemented-parameters.txt of the "
                   "source tree."))
    m.append('.PP')
    m.append('.nf')
    for name, what in sorted(UNIMPL.items()):
        m.append(troff('%s: %s' % (name, what)))
    m.append('.fi')
    m.append('.SH PARAMETERS OF THE VDA QUOTA PATCH')
    m.append(troff("These are not Postfix parameters. Some Postfix builds carried a third-party "
                   "patch for virtual(8) mailbox quotas (\"VDA\"), and configurations written "
                   "for them set the names below. Postern accepts them so that such a main.cf "
                   "passes postfix check unchanged; virtual(8) describes what each one does."))
    m.append('.PP')
    m.append('.nf')
    for name in sorted(EXTRA):
        if name in POSTERN or name in LEGACY:
            continue
        m.append(troff(('%s = %s' % (name, EXTRA[name][1])).rstrip()))
    m.append('.fi')
    m.append('.SH OLD POSTSCREEN PARAMETER NAMES')
    m.append(troff("Postfix 3.7 no longer lists these names but still honours them as the "
                   "defaults of their successors (postscreen_denylist_action, "
                   "postscreen_dnsbl_allowlist_threshold, postscreen_dnsbl_max_ttl, "
                   "postscreen_allowlist_interfaces); so does Postern. They are empty "
                   "unless set."))
    m.append('.PP')
    m.append('.nf')
    for name in LEGACY:
        m.append(troff('%s =' % name))
    m.append('.fi')
    m.append('.SH POSTERN-ONLY PARAMETERS')
    m.append(troff("These parameters are Postern's own; Postfix does not have them. The "
                   "postern_dkim_ ones configure DKIM signing in cleanup(8) (Postfix signs "
                   "through a milter such as opendkim)."))
    for name in sorted(POSTERN):
        t, dflt, what = POSTERN[name]
        m.append('.TP')
        m.append('.B ' + name)
        m.append(troff('(default: %s)' % (dflt if dflt else 'empty')))
        m.append('.br')
        m.append(troff(what))
    m.append('.SH SEE ALSO')
    m.append('\\fBpostconf\\fR(1), \\fBmaster\\fR(5), \\fBmaster\\fR(8)')
    with open(os.path.join(ROOT, 'man/man5/postconf.5'), 'w') as f:
        f.write('\n'.join(m) + '\n')


UNIMPL = {}


def main():
    UNIMPL.update(read_unimplemented())
    src = os.path.join(HERE, 'postfix-3.7-defaults.txt')
    params = []
    with open(src) as f:
        for line in f:
            line = line.rstrip('\n')
            if not line.strip():
                continue
            name, _, dflt = line.partition(' =')
            params.append((name, dflt[1:] if dflt.startswith(' ') else dflt))
    names = {n for n, _ in params}
    for name, (_, dflt) in EXTRA.items():
        if name in names:
            raise SystemExit('EXTRA parameter %s is a Postfix parameter' % name)
        params.append((name, dflt))
    types = {}
    for name, dflt in params:
        types[name] = infer(name, dflt)
    for name, t in TYPE_FIX.items():
        if name in types:
            types[name] = (t, types[name][1] if t == 'TIME' else '')
    for name, (t, _) in EXTRA.items():
        types[name] = (t, '')
    # A default that is just "$other" takes other's type.
    for _ in range(5):
        for name, dflt in params:
            m = re.fullmatch(r'\$\{?(\w+)\}?', dflt)
            if m and m.group(1) in types and name not in TYPE_FIX:
                types[name] = types[m.group(1)]
    for name in UNIMPL:
        if name not in types:
            raise SystemExit('unimplemented-parameters.txt: unknown parameter ' + name)
    params.sort(key=lambda p: p[0].encode())
    hdr = [
        '/*',
        ' * params.h - names (P_*) and default values (D_*) of every main.cf parameter',
        ' *',
        ' * Used by: config.c, param_table.c, postconf and every daemon.',
        ' * Interface: P_NAME is the parameter name, D_NAME its default as a string.',
        ' * Notes: GENERATED by scripts/gen-params/gen.py from the Postfix 3.7',
        ' *        parameter list; edit the script, not this file. D_MYHOSTNAME,',
        ' *        D_MYDOMAIN and D_MYNETWORKS are empty: config.c computes them.',
        ' *        The virtual_* quota names of the third-party VDA patch are',
        ' *        Postern additions (not Postfix parameters); see gen.py EXTRA.',
        ' */',
        '#ifndef POSTERN_PARAMS_H',
        '#define POSTERN_PARAMS_H',
        '#include "sys_compat.h"',
        '',
        '#ifndef DEF_PREFIX',
        '#define DEF_PREFIX "/usr"',
        '#endif',
        '',
    ]
    tab = [
        '/*',
        ' * param_table.c - the table of every main.cf parameter',
        ' *',
        ' * Used by: config.c (defaults, types, bounds), postconf -d, man pages.',
        ' * Interface: param_table[], param_table_count (see param_table.h).',
        ' * Notes: GENERATED by scripts/gen-params/gen.py; sorted by name so that',
        ' *        param_find() can use binary search (C strcmp order). The last',
        ' *        field (unsupported) comes from docs/unimplemented-parameters.txt.',
        ' */',
        '#include "param_table.h"',
        '',
        'const struct param_def param_table[] = {',
    ]
    for name, dflt in params:
        c = cname(name)
        val = OVERRIDE.get(name, cstr(dflt))
        hdr.append('#define P_%s "%s"' % (c, name))
        hdr.append('#define D_%s %s' % (c, val))
        t, unit = types[name]
        flags = []
        if name in RAW:
            flags.append('PARAM_F_RAW')
        if name in READONLY:
            flags.append('PARAM_F_RDONLY')
        if name in DYNAMIC:
            flags.append('PARAM_F_DYNAMIC')
        mn = MIN.get(name, 0)
        mx = MAX.get(name, 0)
        tab.append('    { P_%s, D_%s, PARAM_%s, %s, %dL, %dL, %s, %s },' % (
            c, c, t, ("'%s'" % unit) if unit else '0', mn, mx,
            '|'.join(flags) if flags else '0',
            cstr(UNIMPL[name]) if name in UNIMPL else 'NULL'))
    hdr += ['', '#endif', '']
    tab += ['};', '',
            'const size_t param_table_count = sizeof(param_table) / sizeof(param_table[0]);',
            '', TAIL]
    write_man(params, types)
    with open(os.path.join(ROOT, 'lib/mail/params.h'), 'w') as f:
        f.write('\n'.join(hdr))
    with open(os.path.join(ROOT, 'lib/mail/param_table.c'), 'w') as f:
        f.write('\n'.join(tab))
    print('%d parameters' % len(params), file=sys.stderr)


if __name__ == '__main__':
    main()
