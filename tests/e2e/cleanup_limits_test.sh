#!/bin/bash
# cleanup_limits_test.sh - header_address_token_limit and
# mime_boundary_length_limit in cleanup: past the token limit the addresses
# of a header are no longer rewritten (canonical_maps); with a short
# boundary limit a line that shares only the first characters of a
# multipart boundary is taken as that boundary, so the part headers after
# it meet mime_header_checks. queue_file_attribute_count_limit: a client
# of the cleanup socket that sends more attribute names than the limit
# gets the message refused (4.3.0), one below the limit gets it queued.
. "$(dirname "$0")/lib.sh"
pt_instance
cat >> "$PT_CONF/main.cf" <<EOM
canonical_maps = inline:{ bob@other.example=carol@other.example }
smtpd_recipient_restrictions = check_recipient_access inline:{ hold.example=HOLD }, permit_mynetworks, reject
mime_header_checks = regexp:$PT_CONF/mime_header_checks
EOM
echo '/^Content-Description: marker/ REJECT marker seen' > "$PT_CONF/mime_header_checks"
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }

ADDR_MSG=$'Subject: tokens\r\nTo: alice@other.example, bob@other.example\r\n\r\nbody\r\n'
MIME_MSG=$'Subject: mime\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="abcdefXYZ"\r\n\r\n--abcdefQQQ\r\nContent-Description: marker\r\n\r\none\r\n--abcdefXYZ--\r\n'
# held_to: the To: headers of the messages in the hold queue.
held_to() {
    local f
    for f in $(find "$PT_T/spool/hold" -type f -printf '%f\n'); do
        pt_cmd postcat -h -q "$f" 2>/dev/null | grep '^To:'
    done
}
nheld() { find "$PT_T/spool/hold" -type f | wc -l; }

# Defaults (10240 tokens, 2048 characters).
r=$(PT_BODY=$ADDR_MSG pt_smtp_send a@other.example r@hold.example)
pt_check default_addr_accepted grep -q '^250' <<<"$r"
pt_wait '[ "$(nheld)" -ge 1 ]' 10
pt_check default_both_rewritten [ "$(held_to)" = 'To: alice@other.example, carol@other.example' ]
r=$(PT_BODY=$MIME_MSG pt_smtp_send a@other.example r@hold.example)
pt_check default_lookalike_is_body grep -q '^250' <<<"$r"

# Five tokens (alice @ other.example , bob): the second address is cut
# (and left alone); a boundary known by its first 6 characters.
pt_cmd postconf -e header_address_token_limit=5 mime_boundary_length_limit=6
"$PT_BUILD/sbin/postfix" -c "$PT_CONF" reload >/dev/null 2>&1
pt_wait "grep -q 'reload' '$PT_T/maillog'" 10
sleep 2
n0=$(nheld)
r=$(PT_BODY=$ADDR_MSG pt_smtp_send a@other.example r@hold.example)
pt_check limited_addr_accepted grep -q '^250' <<<"$r"
pt_wait "[ \$(nheld) -gt $n0 ]" 10
pt_check limited_second_kept grep -q 'To: alice@other.example, bob@other.example' <<<"$(held_to)"
r=$(PT_BODY=$MIME_MSG pt_smtp_send a@other.example r@hold.example)
pt_check limited_lookalike_is_boundary grep -q '^550 5.7.1 marker seen' <<<"$r"

# cleanup_attrs N: a message with N attribute records (a_1=x ...) straight
# to public/cleanup, as smtpd would send it; prints cleanup's answer.
cleanup_attrs() {
    pt_cleanup_records S:a@other.example "A*$1:a" R:root@other.example M: "N:Subject: attrs" N: \
        N:body X: E:
}
out=$(cleanup_attrs 50)
pt_check attr_count_below_limit_queued grep -q '^0 ' <<<"$out"
out=$(cleanup_attrs 150)
pt_check attr_count_over_limit_refused grep -q '4.3.0 queue file attribute count exceeds limit' <<<"$out"
pt_check attr_count_logged grep -q 'message rejected: attribute count exceeds limit 100' "$PT_T/maillog"
pt_done
