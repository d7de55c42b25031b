#!/bin/bash
# log_address_format_test.sh - info_log_address_format on real instances:
# with the default (external) the from=, to= and orig_to= fields of qmgr's,
# the delivery agent's and smtpd's log lines quote a local part that needs
# it, as Postfix 3.5+ does; with internal they show it unquoted. Mail with
# spaces in both envelope addresses goes to the discard transport.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/smtpd_restrict_lib.sh"

run_case() {   # run_case FORMAT: one instance, one message, one reject
    pt_instance
    cat >> "$PT_CONF/main.cf" <<EOM
default_transport = discard:no thanks
${1:+info_log_address_format = $1}
EOM
    pt_start || { pt_fail start "instance did not start"; return 1; }
    out=$(pt_rdialog 'EHLO client.example.test' 'MAIL FROM:<"s p"@example.org>' \
        'RCPT TO:<"x y"@remote.example>' 'RCPT TO:<"no one"@example.test>' 'DATA')
    pt_check "${2}_queued" grep -q '^EOM => 250' <<<"$out"
    pt_wait_queue_empty 20
    LOG=$PT_T/maillog
}

run_case "" external
pt_check external_qmgr_from grep -q 'qmgr\[[0-9]*\]: [0-9A-F]*: from=<"s p"@example.org>, size=' "$LOG"
pt_check external_delivery_to grep -q 'discard\[[0-9]*\]: [0-9A-F]*: to=<"x y"@remote.example>, relay=none.*status=sent (no thanks)' "$LOG"
pt_check external_reject_to grep -q ': reject: RCPT from .*from=<"s p"@example.org> to=<"no one"@example.test>' "$LOG"
pt_stop

run_case internal internal
pt_check internal_qmgr_from grep -q 'qmgr\[[0-9]*\]: [0-9A-F]*: from=<s p@example.org>, size=' "$LOG"
pt_check internal_delivery_to grep -q 'discard\[[0-9]*\]: [0-9A-F]*: to=<x y@remote.example>, relay=none.*status=sent (no thanks)' "$LOG"
pt_check internal_reject_to grep -q ': reject: RCPT from .*from=<s p@example.org> to=<no one@example.test>' "$LOG"
pt_check no_unsupported_warning bash -c "! grep -q 'info_log_address_format is not supported' '$LOG' '$PT_T/start.log'"
pt_done
