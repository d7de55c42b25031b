#!/bin/bash
# postscreen_engine_test.sh - the smtpd settings that postscreen(8)'s dummy
# SMTP engine copies, against a real instance: postscreen_helo_required,
# postscreen_disable_vrfy_command, postscreen_reject_footer (and its
# default $smtpd_reject_footer, read unexpanded),
# postscreen_reject_footer_maps, postscreen_expansion_filter,
# postscreen_command_filter, postscreen_discard_ehlo_keywords and
# postscreen_discard_ehlo_keyword_address_maps; and
# postscreen_allowlist_interfaces with its old name
# postscreen_whitelist_interfaces (listeners on 127.0.0.2 and 127.0.0.3).
#
# Clients reach the engine through postscreen_access_list (cidr reject,
# postscreen_denylist_action = enforce) with postscreen_greet_wait = 0s, so
# that no case waits. Each postscreen service of master.cf gets its own -o
# settings.

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
. "$HERE/smtpd_restrict_lib.sh"
pt_setup_users
pt_instance
C=$PT_CONF
for p in HELO SMTPD FOOT MAP FILTER EHLO TLS VETO WL COUNT SOFT OLD; do
    printf -v "${p}_PORT" %s "$(pt_free_port)"
done
cat >> "$C/main.cf" <<EOM
postscreen_access_list = permit_mynetworks, cidr:$C/ps_access.cidr
mynetworks = 127.0.0.9/32
postscreen_denylist_action = enforce
postscreen_greet_wait = 0s
smtpd_reject_footer = \c (ask postmaster@\$server_name about \$client_address)\nSee <https://help.example.test/>
EOM
printf '127.0.0.6 reject\n127.0.0.7 reject\n127.0.0.8 reject\n' > "$C/ps_access.cidr"
printf '/^550 5\\.3\\.2 /\t\\c [$client_address] via map\n' > "$C/footer.regexp"
printf '/^HELLO (.*)$/\tEHLO $1\n/^Subject: /\tNOOP\n' > "$C/cmd_filter.regexp"
printf '127.0.0.7\tpipelining, vrfy\n127.0.0.8\tsilent-discard, enhancedstatuscodes\n' > "$C/ehlo_discard.cidr"
# The cache of the vetoed listener already holds 127.0.0.21 (all tests
# passed until 2286): a cached client passes on every address.
printf '127.0.0.21\t9999999999;9999999999;0;0;0\n' > "$PT_T/data/veto_cache"
pt_cmd postmap "btree:$PT_T/data/veto_cache" || pt_fail veto_cache "postmap failed"
sed -i -e "/^127.0.0.1:$PT_PORT *inet/d" "$C/master.cf"
cat >> "$C/master.cf" <<EOM
127.0.0.1:$PT_PORT inet n - y - 1 postscreen
    -o postscreen_reject_footer= -o postscreen_allowlist_interfaces=127.0.0.1
smtpd     pass  -       -       y       -       -       smtpd
127.0.0.1:$HELO_PORT inet n - y - 1 postscreen
    -o postscreen_reject_footer= -o postscreen_helo_required=yes
    -o postscreen_disable_vrfy_command=yes
127.0.0.1:$SMTPD_PORT inet n - y - 1 postscreen
    -o postscreen_reject_footer= -o smtpd_helo_required=yes -o disable_vrfy_command=yes
127.0.0.1:$FOOT_PORT inet n - y - 1 postscreen
127.0.0.1:$MAP_PORT inet n - y - 1 postscreen
    -o postscreen_reject_footer_maps=regexp:$C/footer.regexp
    -o postscreen_expansion_filter=0123456789
127.0.0.1:$FILTER_PORT inet n - y - 1 postscreen
    -o postscreen_reject_footer= -o postscreen_command_filter=regexp:$C/cmd_filter.regexp
    -o postscreen_non_smtp_command_enable=yes -o postscreen_cache_map=
127.0.0.1:$EHLO_PORT inet n - y - 1 postscreen
    -o postscreen_reject_footer= -o postscreen_discard_ehlo_keywords=8bitmime,vrfy
    -o postscreen_discard_ehlo_keyword_address_maps=cidr:$C/ehlo_discard.cidr
127.0.0.1:$TLS_PORT inet n - y - 1 postscreen
    -o postscreen_reject_footer= -o postscreen_tls_security_level=may
    -o postscreen_discard_ehlo_keywords=starttls
127.0.0.2:$VETO_PORT inet n - y - 1 postscreen
    -o postscreen_reject_footer= -o postscreen_allowlist_interfaces=!127.0.0.2,static:all
    -o postscreen_cache_map=btree:$PT_T/data/veto_cache
127.0.0.1:$COUNT_PORT inet n - y - 1 postscreen
    -o postscreen_reject_footer= -o postscreen_command_count_limit=3
127.0.0.1:$SOFT_PORT inet n - y - 1 postscreen
    -o postscreen_reject_footer= -o soft_bounce=yes
127.0.0.4:$OLD_PORT inet n - y - 1 postscreen
    -o postscreen_reject_footer= -o compatibility_level=2
    -o postscreen_allowlist_interfaces=!127.0.0.4,static:all
127.0.0.3:$WL_PORT inet n - y - 1 postscreen
    -o postscreen_reject_footer= -o postscreen_whitelist_interfaces=!127.0.0.3,static:all
    -o postscreen_cache_map=
EOM
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }
L=$PT_T/maillog

# pe_dialog DST PORT SRC CMD...: pt_rdialog from SRC to DST:PORT, showing
# every line of each reply ("CMD => LINE | LINE ...").
pe_dialog() { local d=$1 p=$2 s=$3; shift 3; pt_rdialog -a -d "$d" -p "$p" -s "$s" "$@"; }
# pe_log_count PATTERN: how many maillog lines match (grep -E).
pe_log_count() { grep -cE -- "$1" "$L"; }
ML='mail\.example\.test'
# pe_cases DST PORT CHECK CMDS CASE...: for each CASE "N NAME WANT...", a
# dialogue from 127.0.0.N to DST:PORT with the commands of the array named
# CMDS, then CHECK NAME "WANT..." OUTPUT.
pe_cases() {
    local dst=$1 port=$2 check=$3 c out
    local -n pe_cmds=$4
    shift 4
    for c in "$@"; do
        set -- $c
        out=$(pe_dialog "$dst" "$port" "127.0.0.$1" "${pe_cmds[@]}")
        "$check" "$2" "${*:3}" "$out"
    done
}
# pe_rcpt NAME REPLY TEXT: ok when TEXT shows REPLY (as written) to RCPT TO.
pe_rcpt() { pt_expect "$1" "^RCPT TO:<alice@example.test> => $(sed 's/\./\\./g' <<<"$2")\$" "$3"; }
# pe_ehlo NAME 'KEYWORD...' TEXT: ok when TEXT holds the reply to "EHLO
# client.example" with exactly these keywords, in this order ('_' stands
# for a blank: SIZE_10240000).
pe_ehlo() {
    local want="^EHLO client.example => 250-$ML" kw
    for kw in $2; do want+=" \\| 250-${kw//_/ }"; done
    pt_expect "$1" "$(sed -E 's/250-([A-Z0-9]+)$/250 \1$/' <<<"$want")" "$3"
}

# ---- defaults: VRFY allowed (disable_vrfy_command = no), HELO optional ----
out=$(pe_dialog 127.0.0.1 "$PT_PORT" 127.0.0.6 "MAIL FROM:<s@example.org>" "VRFY" "VRFY alice" \
      "EHLO client.example" "RCPT TO:<alice@example.test>" "MAIL FROM:<s@example.org>" \
      "RCPT TO:<alice@example.test>")
pt_expect default_engine_greeting "^CONNECT => 220-$ML .* \\| 220 $ML " "$out"
pt_expect default_mail_without_helo '^MAIL FROM:<s@example.org> => 250 2\.1\.0 Ok$' "$out"
pt_expect default_vrfy_syntax '^VRFY => 501 5\.5\.4 Syntax: VRFY address$' "$out"
pt_expect default_vrfy_refused_like_rcpt '^VRFY alice => 550 5\.3\.2 Service currently unavailable$' "$out"
pe_ehlo default_ehlo_offers_vrfy "SIZE_10240000 VRFY ETRN ENHANCEDSTATUSCODES 8BITMIME DSN SMTPUTF8 CHUNKING" "$out"
# EHLO ends the transaction (as RSET): RCPT needs a new MAIL.
pt_expect default_ehlo_resets_sender '^RCPT TO:<alice@example.test> => 503 5\.5\.1 Error: need MAIL command$' "$out"
pt_expect default_rcpt_550 '^RCPT TO:<alice@example.test> => 550 5\.3\.2 Service currently unavailable$' "$out"
pt_check default_rcpt_logged grep -qE 'NOQUEUE: reject: RCPT from \[127\.0\.0\.6\]:[0-9]+: 550 5\.3\.2 Service currently unavailable; from=<s@example\.org>, to=<alice@example\.test>, proto=ESMTP, helo=<client\.example>$' "$L"
pt_check default_vrfy_not_logged [ "$(pe_log_count 'reject: VRFY|to=<alice>')" = 0 ]

# ---- postscreen_helo_required, postscreen_disable_vrfy_command ----
helo_cases() {
    local port=$1 tag=$2
    out=$(pe_dialog 127.0.0.1 "$port" 127.0.0.6 "MAIL FROM:<s@example.org>" "RCPT TO:<alice@example.test>" \
          "VRFY alice" "HELO" "EHLO client.example" "MAIL FROM:<s@example.org>" "VRFY alice" \
          "RCPT TO:<alice@example.test>")
    pt_expect ${tag}_mail_before_helo_503 '^MAIL FROM:<s@example.org> => 503 5\.5\.1 Error: send HELO/EHLO first$' "$out"
    pt_expect ${tag}_rcpt_before_mail_503 '^RCPT TO:<alice@example.test> => 503 5\.5\.1 Error: need MAIL command$' "$out"
    pt_expect ${tag}_vrfy_disabled_502 '^VRFY alice => 502 5\.5\.1 VRFY command is disabled$' "$out"
    pt_check ${tag}_vrfy_disabled_twice [ "$(grep -c '^VRFY alice => 502 5\.5\.1 VRFY command is disabled$' <<<"$out")" = 2 ]
    pt_expect ${tag}_helo_without_name_501 '^HELO => 501 Syntax: HELO hostname$' "$out"
    pe_ehlo ${tag}_ehlo_no_vrfy "SIZE_10240000 ETRN ENHANCEDSTATUSCODES 8BITMIME DSN SMTPUTF8 CHUNKING" "$out"
    pt_expect ${tag}_mail_after_ehlo_250 '^MAIL FROM:<s@example.org> => 250 2\.1\.0 Ok$' "$out"
    pt_expect ${tag}_rcpt_550 '^RCPT TO:<alice@example.test> => 550 5\.3\.2 Service currently unavailable$' "$out"
}
helo_cases "$HELO_PORT" helo_required
# The same through their defaults, $smtpd_helo_required and $disable_vrfy_command.
helo_cases "$SMTPD_PORT" smtpd_defaults

# ---- postscreen_reject_footer = $smtpd_reject_footer (kept unexpanded) ----
out=$(pe_dialog 127.0.0.1 "$FOOT_PORT" 127.0.0.6 "EHLO client.example" "VRFY" "MAIL FROM:<s@example.org>" \
      "RCPT TO:<alice@example.test>")
pt_expect footer_rcpt "^RCPT TO:<alice@example.test> => 550-5\\.3\\.2 Service currently unavailable \\(ask postmaster@$ML about 127\\.0\\.0\\.6\\) \\| 550 5\\.3\\.2 See <https://help\\.example\\.test/>$" "$out"
pt_expect footer_501 "^VRFY => 501-5\\.5\\.4 Syntax: VRFY address \\(ask postmaster@$ML about 127\\.0\\.0\\.6\\) \\| 501 5\\.5\\.4 See <https://help\\.example\\.test/>$" "$out"
pt_expect footer_not_on_2xx '^MAIL FROM:<s@example.org> => 250 2\.1\.0 Ok$' "$out"
pt_expect footer_not_on_ehlo "^EHLO client.example => 250-$ML \\| .*250 CHUNKING$" "$out"
pt_check footer_not_logged grep -qE 'NOQUEUE: reject: RCPT from \[127\.0\.0\.6\]:[0-9]+: 550 5\.3\.2 Service currently unavailable; from=<s@example\.org>, to=<alice@example\.test>, proto=ESMTP, helo=<client\.example>$' "$L"
pt_check footer_not_in_any_log [ "$(pe_log_count 'help\.example\.test')" = 0 ]

# ---- postscreen_reject_footer_maps, postscreen_expansion_filter ----
out=$(pe_dialog 127.0.0.1 "$MAP_PORT" 127.0.0.6 "VRFY" "MAIL FROM:<s@example.org>" "RCPT TO:<alice@example.test>")
pt_expect footer_map_rcpt '^RCPT TO:<alice@example.test> => 550 5\.3\.2 Service currently unavailable \[127_0_0_6\] via map$' "$out"
pt_expect footer_map_miss_uses_footer '^VRFY => 501-5\.5\.4 Syntax: VRFY address \(ask postmaster@_{17} about 127_0_0_6\) \| 501 5\.5\.4 See <https://help\.example\.test/>$' "$out"

# ---- postscreen_command_filter ----
out=$(pe_dialog 127.0.0.1 "$FILTER_PORT" 127.0.0.6 "HELLO filter.example" "MAIL FROM:<s@example.org>" \
      "RCPT TO:<alice@example.test>")
pt_expect cmd_filter_replaces "^HELLO filter.example => 250-$ML \\| .*250 CHUNKING$" "$out"
pt_check cmd_filter_logged grep -qE 'postscreen\[[0-9]+\]: \[127\.0\.0\.6\]:[0-9]+: replacing command "HELLO filter\.example" with "EHLO filter\.example"$' "$L"
pt_check cmd_filter_helo_recorded grep -qE 'NOQUEUE: reject: RCPT from \[127\.0\.0\.6\]:[0-9]+: .*proto=ESMTP, helo=<filter\.example>$' "$L"
# Before the non-SMTP test: a header-like line that the filter turns into
# NOOP is not a NON-SMTP COMMAND (a clean client, held for that test).
out=$(pe_dialog 127.0.0.1 "$FILTER_PORT" 127.0.0.30 "EHLO client.example" "Subject: hello" \
      "MAIL FROM:<s@example.org>" "RCPT TO:<alice@example.test>")
pt_expect cmd_filter_before_tests '^Subject: hello => 250 2\.0\.0 Ok$' "$out"
pt_expect cmd_filter_deep_450 '^RCPT TO:<alice@example.test> => 450 4\.3\.2 Service currently unavailable$' "$out"
pt_check cmd_filter_no_non_smtp [ "$(pe_log_count 'NON-SMTP COMMAND from \[127\.0\.0\.30\]')" = 0 ]
pt_check cmd_filter_deep_pass_new grep -qE 'PASS NEW \[127\.0\.0\.30\]:[0-9]+$' "$L"

# ---- postscreen_discard_ehlo_keywords and _address_maps ----
# 127.0.0.6: the list (8bitmime, vrfy); .7: the map (pipelining, vrfy,
# logged); .8: the map (enhancedstatuscodes, silently).
EHLO=("EHLO client.example")
pe_cases 127.0.0.1 "$EHLO_PORT" pe_ehlo EHLO "6 ehlo_discard_list SIZE_10240000 ETRN ENHANCEDSTATUSCODES DSN SMTPUTF8 CHUNKING" \
    "7 ehlo_discard_map SIZE_10240000 ETRN ENHANCEDSTATUSCODES 8BITMIME DSN SMTPUTF8 CHUNKING" \
    "8 ehlo_discard_map_silent SIZE_10240000 VRFY ETRN 8BITMIME DSN SMTPUTF8 CHUNKING"
pt_check ehlo_discard_map_logged grep -qE 'postscreen\[[0-9]+\]: \[127\.0\.0\.7\]:[0-9]+: discarding EHLO keywords: PIPELINING VRFY$' "$L"
pt_check ehlo_discard_list_and_silent_not_logged [ "$(pe_log_count 'discarding EHLO keywords')" = 1 ]
out=$(pe_dialog 127.0.0.1 "$TLS_PORT" 127.0.0.6 "EHLO client.example" "STARTTLS")
pe_ehlo ehlo_discard_starttls_not_offered "SIZE_10240000 VRFY ETRN ENHANCEDSTATUSCODES 8BITMIME DSN SMTPUTF8 CHUNKING" "$out"
pt_expect ehlo_discard_starttls_502 '^STARTTLS => 502 5\.5\.1 Error: command not implemented$' "$out"

# ---- postscreen_allowlist_interfaces ----
MSG=("EHLO client.example" "MAIL FROM:<s@example.org>" "RCPT TO:<alice@example.test>")
# An allowed interface (127.0.0.1): a clean client is cached and handed over.
out=$(pe_dialog 127.0.0.1 "$PT_PORT" 127.0.0.23 "${MSG[@]}")
pt_expect allow_if_smtpd_accepts '^RCPT TO:<alice@example.test> => 250 2\.1\.5 Ok$' "$out"
pt_check allow_if_pass_new grep -qE 'PASS NEW \[127\.0\.0\.23\]:[0-9]+$' "$L"
# 127.0.0.2 is left out: a clean client passes the tests, but it is neither
# cached nor handed to smtpd, twice over.
pe_cases 127.0.0.2 "$VETO_PORT" pe_rcpt MSG "20 veto_rcpt_450_1 450 4.3.2 Service currently unavailable" \
    "20 veto_rcpt_450_2 450 4.3.2 Service currently unavailable"
pt_check veto_logged_twice [ "$(pe_log_count 'postscreen\[[0-9]+\]: ALLOWLIST VETO \[127\.0\.0\.20\]:[0-9]+$')" = 2 ]
pt_check veto_not_passed [ "$(pe_log_count 'PASS (NEW|OLD) \[127\.0\.0\.20\]')" = 0 ]
pt_check veto_rcpt_logged grep -qE 'NOQUEUE: reject: RCPT from \[127\.0\.0\.20\]:[0-9]+: 450 4\.3\.2 Service currently unavailable; from=<s@example\.org>, to=<alice@example\.test>, proto=ESMTP, helo=<client\.example>$' "$L"
# Already cached (.21), or permitted by the access list (.9): through on
# any address. Denylisted (.6): its test's reply.
pe_cases 127.0.0.2 "$VETO_PORT" pe_rcpt MSG "21 veto_cached_rcpt 250 2.1.5 Ok" \
    "9 veto_allowlisted_rcpt 250 2.1.5 Ok" "6 veto_denylisted_rcpt 550 5.3.2 Service currently unavailable"
pt_check veto_cached_pass_old grep -qE 'PASS OLD \[127\.0\.0\.21\]:[0-9]+$' "$L"
pt_check veto_allowlisted_not_vetoed [ "$(pe_log_count 'ALLOWLIST VETO \[127\.0\.0\.(9|21)\]')" = 0 ]
# The old name, postscreen_whitelist_interfaces, is the new one's default.
pe_cases 127.0.0.3 "$WL_PORT" pe_rcpt MSG "22 old_name_rcpt_450 450 4.3.2 Service currently unavailable"
pt_check old_name_vetoed grep -qE 'ALLOWLIST VETO \[127\.0\.0\.22\]:[0-9]+$' "$L"

# The vetoed client never reaches the cache file (a pass would be saved
# within a second).
pe_cached() { pt_cmd postmap -s "btree:$PT_T/data/veto_cache" | grep -q '^127\.0\.0\.20[[:space:]]'; }
pt_check veto_not_cached_file eval '! pt_wait pe_cached 2'

# ---- the engine's replies, as Postfix's postscreen gives them ----
# pe_ended CMD OUT: the session was over before CMD: it got no answer (end
# of file, or a reset when it arrived after the close).
pe_ended() { ! grep -q "^$1 => [0-9]" <<<"$2"; }
# (denylisted 127.0.0.6..8, so every after-220 test is on for them too)
out=$(pe_dialog 127.0.0.1 "$PT_PORT" 127.0.0.6 "HELO client.example" "MAIL FROM <s@example.org>" \
      "MAIL FROM:<s@example.org>" "MAIL FROM:<t@example.org>" "RCPT TO <alice@example.test>" \
      "ETRN" "ETRN example.test" "AUTH PLAIN AGFsaWNlAHNlY3JldA==" "DATA" "NOOP")
pt_expect engine_mail_syntax '^MAIL FROM <s@example.org> => 501 5\.5\.4 Syntax: MAIL FROM:<address>$' "$out"
pt_expect engine_nested_mail '^MAIL FROM:<t@example.org> => 503 5\.5\.1 Error: nested MAIL command$' "$out"
pt_expect engine_rcpt_syntax '^RCPT TO <alice@example.test> => 501 5\.5\.4 Syntax: RCPT TO:<address>$' "$out"
pt_expect engine_etrn_syntax '^ETRN => 500 Syntax: ETRN domain$' "$out"
pt_expect engine_etrn_458 '^ETRN example.test => 458 Unable to queue messages$' "$out"
pt_expect engine_auth_unknown '^AUTH PLAIN [^ ]* => 502 5\.5\.2 Error: command not recognized$' "$out"
pt_expect engine_data_554 '^DATA => 554 5\.5\.1 Error: no valid recipients$' "$out"
pt_check engine_data_hangs_up pe_ended NOOP "$out"
pt_check engine_data_logged grep -qE 'postscreen\[[0-9]+\]: DATA without valid RCPT from \[127\.0\.0\.6\]:[0-9]+$' "$L"
out=$(pe_dialog 127.0.0.1 "$PT_PORT" 127.0.0.7 "EHLO client.example" "DATA" "NOOP")
pt_expect engine_data_without_mail '^DATA => 503 5\.5\.1 Error: need RCPT command$' "$out"
pt_check engine_data_without_mail_hangs_up pe_ended NOOP "$out"
out=$(pe_dialog 127.0.0.1 "$PT_PORT" 127.0.0.8 "EHLO client.example" "BDAT" "NOOP")
pt_expect engine_bdat_syntax '^BDAT => 501 5\.5\.4 Syntax: BDAT count \[LAST\]$' "$out"
pt_check engine_bdat_hangs_up pe_ended NOOP "$out"
out=$(pe_dialog 127.0.0.1 "$PT_PORT" 127.0.0.6 "EHLO client.example" "MAIL FROM:<s@example.org>" "BDAT 5 LAST")
pt_expect engine_bdat_554 '^BDAT 5 LAST => 554 5\.5\.1 Error: no valid recipients$' "$out"
pt_check engine_bdat_logged grep -qE 'BDAT without valid RCPT from \[127\.0\.0\.6\]:[0-9]+$' "$L"
# A client that failed a before-220 test gets every after-220 test,
# although this listener has none on: non-SMTP command, action drop.
out=$(pe_dialog 127.0.0.1 "$PT_PORT" 127.0.0.7 "EHLO client.example" "GET / HTTP/1.0" "NOOP")
pt_expect failed_client_non_smtp_dropped '^GET / HTTP/1\.0 => 521 5\.7\.0 Error: I can break rules, too\. Goodbye\.$' "$out"
pt_check failed_client_non_smtp_logged grep -qE 'NON-SMTP COMMAND from \[127\.0\.0\.7\]:[0-9]+ after EHLO: GET / HTTP/1\.0$' "$L"
# postscreen_command_count_limit = 3: the fourth command gets 421 and the
# end, but QUIT is always answered.
out=$(pe_dialog 127.0.0.1 "$COUNT_PORT" 127.0.0.6 "NOOP" "NOOP" "RSET" "NOOP" "HELP")
pt_expect count_limit_421 '^NOOP => 421 mail\.example\.test Service unavailable - try again later$' "$out"
pt_check count_limit_hangs_up pe_ended HELP "$out"
pt_check count_limit_logged grep -qE 'COMMAND COUNT LIMIT from \[127\.0\.0\.6\]:[0-9]+ after RSET$' "$L"
out=$(pe_dialog 127.0.0.1 "$COUNT_PORT" 127.0.0.6 "NOOP" "NOOP" "NOOP" "QUIT")
pt_expect count_limit_quit_221 '^QUIT => 221 2\.0\.0 Bye$' "$out"

# soft_bounce = yes: every 5xx the engine sends goes out (and is logged) as
# 4xx, as from Postfix's postscreen.
out=$(pe_dialog 127.0.0.1 "$SOFT_PORT" 127.0.0.6 "EHLO client.example" "MAIL FROM:<soft@example.org>" \
      "RCPT TO:<alice@example.test>" "DATA")
pt_expect soft_bounce_rcpt_450 '^RCPT TO:<alice@example.test> => 450 4\.3\.2 Service currently unavailable$' "$out"
pt_expect soft_bounce_data_454 '^DATA => 454 4\.5\.1 Error: no valid recipients$' "$out"
pt_check soft_bounce_logged grep -qE 'NOQUEUE: reject: RCPT from \[127\.0\.0\.6\]:[0-9]+: 450 4\.3\.2 Service currently unavailable; from=<soft@example\.org>' "$L"

# respectful_logging: its default is "no" below compatibility level 3.6
# (RHEL's stock main.cf says 2): the older words, as Postfix logs them.
pe_dialog 127.0.0.4 "$OLD_PORT" 127.0.0.6 "QUIT" >/dev/null
pe_dialog 127.0.0.4 "$OLD_PORT" 127.0.0.9 "QUIT" >/dev/null
pe_dialog 127.0.0.4 "$OLD_PORT" 127.0.0.24 "QUIT" >/dev/null
pt_check old_words_blacklisted grep -qE 'postscreen\[[0-9]+\]: BLACKLISTED \[127\.0\.0\.6\]:[0-9]+$' "$L"
pt_check old_words_whitelisted grep -qE 'postscreen\[[0-9]+\]: WHITELISTED \[127\.0\.0\.9\]:[0-9]+$' "$L"
pt_check old_words_veto grep -qE 'postscreen\[[0-9]+\]: WHITELIST VETO \[127\.0\.0\.24\]:[0-9]+$' "$L"
pt_check new_words_by_default grep -qE 'postscreen\[[0-9]+\]: DENYLISTED \[127\.0\.0\.6\]:[0-9]+$' "$L"

# None of the nine is reported as unsupported any more.
pt_check no_unsupported_warning [ "$(pe_log_count 'postscreen_[a-z_]+ is not supported by Postern')" = 0 ]
pt_done
