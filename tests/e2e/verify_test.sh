#!/bin/bash
# verify_test.sh - address verification: the verify service, probes through
# the real delivery path, reject_unverified_recipient / _sender in smtpd
#
# A Postern instance relays remote.test (transport map) to a small Python
# SMTP peer that accepts good@remote.test, answers 550 for bad@remote.test
# and records every command it sees. smtpd on a second port has
# reject_unverified_recipient (unverified_recipient_reject_code = 550) and a
# third one reject_unverified_sender. Checks the SMTP replies (the pending
# cycle, the 550 carrying the peer's reason), that probes reached the peer
# as MAIL/RCPT without DATA, that nothing was delivered, bounced or left in
# the queue, that the cache file survives a restart (no new probe), and
# local probes for an existing and an unknown user.
. "$(dirname "$0")/lib.sh"

pt_setup_users; pt_clean_homes
pt_instance
T=$PT_T
P_PEER=$(pt_free_port); P_V=$(pt_free_port); P_S=$(pt_free_port); P_P=$(pt_free_port)

python3 - "$P_PEER" "$T/peer.log" >"$T/peer.err" 2>&1 <<'EOP' &
# A minimal ESMTP peer: 250 for good@ANY.DOMAIN, 550 for any other
# recipient; every command line is appended to the log as it arrives.
import socket, sys, threading
port, logpath = int(sys.argv[1]), sys.argv[2]
lock = threading.Lock()
def note(s):
    with lock, open(logpath, "a") as fp:
        fp.write(s + "\n")
def serve(conn):
    f = conn.makefile("rb")
    def send(s):
        conn.sendall(s.encode() + b"\r\n")
    note("CONNECT")
    send("220 peer.remote.test ESMTP")
    while True:
        line = f.readline()
        if not line:
            return
        cmd = line.decode("latin-1").rstrip("\r\n")
        note(cmd)
        verb = cmd.split(" ")[0].upper()
        if verb == "EHLO":
            send("250-peer.remote.test"); send("250 PIPELINING")
        elif verb == "RCPT":
            if "<good@" in cmd.lower():
                send("250 2.1.5 Ok")
            else:
                send("550 5.1.1 <%s>: Recipient address rejected: User unknown in peer table"
                     % cmd[cmd.find("<") + 1:cmd.rfind(">")])
        elif verb == "DATA":
            send("354 go ahead")
            while True:
                l = f.readline()
                if not l or l == b".\r\n":
                    break
            note("END-OF-DATA")
            send("250 2.0.0 Ok: queued")
        elif verb == "QUIT":
            send("221 2.0.0 Bye"); return
        else:
            send("250 2.0.0 Ok")
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port)); s.listen(10)
while True:
    c, _ = s.accept()
    threading.Thread(target=lambda c=c: (serve(c), c.close()), daemon=True).start()
EOP
PT_PIDS+=($!)

# other.test: ordinary mail goes to the discard transport, but probes take
# address_verify_transport_maps to the peer.
printf 'remote.test smtp:[127.0.0.1]:%s\nother.test discard:ordinary mail discarded\n' \
    "$P_PEER" > "$PT_CONF/transport"
printf 'remote.test smtp:[127.0.0.1]:%s\nother.test smtp:[127.0.0.1]:%s\n' "$P_PEER" "$P_PEER" \
    > "$PT_CONF/vtransport"
pt_cmd postmap "$PT_CONF/transport"
pt_cmd postmap "$PT_CONF/vtransport"
cat >> "$PT_CONF/main.cf" <<EOF
transport_maps = hash:$PT_CONF/transport
address_verify_transport_maps = hash:$PT_CONF/vtransport
relay_domains = remote.test, other.test, sdr.test
address_verify_sender_dependent_relayhost_maps = inline:{ {@mail.example.test=[127.0.0.1]:$P_PEER} }
home_mailbox = Maildir/
address_verify_poll_delay = 1s
unverified_recipient_reject_code = 550
EOF
cat >> "$PT_CONF/master.cf" <<EOF
127.0.0.1:$P_V inet n - n - - smtpd
    -o smtpd_recipient_restrictions=reject_unauth_destination,reject_unverified_recipient
    -o address_verify_poll_count=5
127.0.0.1:$P_P inet n - n - - smtpd
    -o smtpd_recipient_restrictions=reject_unauth_destination,reject_unverified_recipient
    -o address_verify_poll_count=1
127.0.0.1:$P_S inet n - n - - smtpd
    -o smtpd_sender_restrictions=reject_unverified_sender
    -o smtpd_recipient_restrictions=permit_mynetworks,reject
    -o address_verify_poll_count=1
EOF
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }
pt_wait_smtp "$P_V" 20 || pt_fail start_v "smtpd on $P_V did not answer"

# rcpt PORT FROM TO: the reply to RCPT TO (code and text), then RSET/QUIT.
rcpt() {
    python3 - "$1" "$2" "$3" <<'EOP'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=60)
s.ehlo("client.example.test")
code, msg = s.mail(sys.argv[2])
if code != 250:
    print(code, msg.decode()); s.quit(); sys.exit()
code, msg = s.rcpt(sys.argv[3])
print(code, msg.decode())
s.rset(); s.quit()
EOP
}
# The verify cache entry for an address, as postmap reads it from the
# default map btree:$data_directory/verify_cache ("STATUS:PROBED:UPDATED:TEXT").
cache_has() { pt_cmd postmap -q "$1" "btree:$T/data/verify_cache" 2>/dev/null; }
export -f cache_has pt_cmd; export PT_BUILD PT_CONF T

# 1. With one poll, the first query only starts the probe: 450 pending
# (unverified_recipient_defer_code), applied as defer_if_permit.
r=$(rcpt "$P_P" sender@example.test pending@remote.test)
pt_check first_query_is_pending \
    [ "$r" = "450 4.1.1 <pending@remote.test>: Recipient address rejected: unverified address: Address verification in progress" ]
pt_wait "grep -q 'to=<pending@remote.test>.*status=undeliverable' '$T/maillog'" 20
r=$(rcpt "$P_P" sender@example.test pending@remote.test)
pt_check pending_then_550 [ "${r%% *}" = 550 ]

# 2. On the verify port (poll count 5, delay 1s) the accepted address passes.
r=$(rcpt "$P_V" sender@example.test good@remote.test)
pt_check good_address_250 [ "${r%% *}" = 250 ]

# 3. The rejected one gets 550 with the peer's reason.
r=$(rcpt "$P_V" sender@example.test bad@remote.test)
case $r in
"550 5.1.1 <bad@remote.test>: Recipient address rejected: undeliverable address: host 127.0.0.1[127.0.0.1] said: 550 5.1.1 <bad@remote.test>: Recipient address rejected: User unknown in peer table (in reply to RCPT TO command)")
    pt_ok bad_address_550_with_reason ;;
*) pt_fail bad_address_550_with_reason "got: $r" ;;
esac

# 4. The peer saw the probes: MAIL and RCPT, never DATA.
pt_check peer_saw_probe_rcpt grep -qi '^RCPT TO:<bad@remote.test>' "$T/peer.log"
pt_check peer_saw_no_data bash -c "! grep -q '^DATA' '$T/peer.log'"
pt_check probe_sender_is_double_bounce grep -q '^MAIL FROM:<double-bounce@mail.example.test>' "$T/peer.log"

# 5. Nothing queued, delivered or bounced.
pt_wait_queue_empty 20
pt_check queue_empty_after_probes [ "$(pt_queue_count)" -eq 0 ]
pt_check no_bounce_logs [ -z "$(find "$T/spool/bounce" "$T/spool/defer" "$T/spool/trace" -type f 2>/dev/null)" ]
pt_check log_says_deliverable grep -q 'to=<good@remote.test>.*status=deliverable (250 2.1.5 Ok)' "$T/maillog"
pt_check log_says_undeliverable grep -q 'to=<bad@remote.test>.*status=undeliverable' "$T/maillog"
pt_check no_dsn_sent bash -c "! grep -q 'sender non-delivery notification' '$T/maillog'"

# 6. The cache file has both results and survives a restart: after it, the
# answers come at once and the peer sees no new probe.
# (results reach the file within a second: verify writes them in batches)
pt_wait "[[ \"\$(cache_has good@remote.test)\" == 0:* ]]" 10
pt_check cache_file_has_good bash -c "[[ \"\$(cache_has good@remote.test)\" == 0:* ]]"
pt_stop
pt_wait "[ ! -e '$T/spool/pid/master.pid' ]" 20
probes_before=$(grep -c '^RCPT' "$T/peer.log")
pt_start || pt_fail restart "instance did not restart"
pt_wait_smtp "$P_V" 20
r=$(rcpt "$P_V" sender@example.test good@remote.test)
pt_check good_after_restart [ "${r%% *}" = 250 ]
r=$(rcpt "$P_V" sender@example.test bad@remote.test)
pt_check bad_after_restart [ "${r%% *}" = 550 ]
pt_check no_new_probe_after_restart [ "$(grep -c '^RCPT' "$T/peer.log")" = "$probes_before" ]

# 7. reject_unverified_sender: an unknown sender is pending at first, then
# rejected with the default reject code 450; as with Postfix, a 4xx reject
# code makes the text say "unverified address", with the peer's reason.
r=$(rcpt "$P_S" nobody@remote.test alice@example.test)
pt_check sender_first_pending \
    [ "$r" = "450 4.1.7 <nobody@remote.test>: Sender address rejected: unverified address: Address verification in progress" ]
pt_wait "grep -q 'to=<nobody@remote.test>.*status=undeliverable' '$T/maillog'" 20
r=$(rcpt "$P_S" nobody@remote.test alice@example.test)
case $r in
"450 4.1.7 <nobody@remote.test>: Sender address rejected: unverified address: host 127.0.0.1[127.0.0.1] said: 550 5.1.1 "*) pt_ok sender_undeliverable_450 ;;
*) pt_fail sender_undeliverable_450 "got: $r" ;;
esac
r=$(rcpt "$P_S" good@remote.test alice@example.test)
pt_check sender_known_good_250 [ "${r%% *}" = 250 ]

# 8. Probes follow address_verify_transport_maps, ordinary mail does not:
# the peer (not discard) answers the probe for other.test.
r=$(rcpt "$P_V" sender@example.test bad@other.test)
pt_check probe_routing_override [ "${r%% *}" = 550 ]
pt_check peer_saw_override_probe grep -qi '^RCPT TO:<bad@other.test>' "$T/peer.log"
r=$(pt_smtp_send sender@example.test good@other.test)
pt_check ordinary_mail_accepted [ "${r%% *}" = 250 ]
pt_wait "grep -q 'to=<good@other.test>.*status=sent (ordinary mail discarded)' '$T/maillog'" 20
pt_check ordinary_mail_routed_normally grep -q 'to=<good@other.test>.*relay=none.*status=sent' "$T/maillog"

# 8b. Probes (sender double-bounce@mail.example.test) for sdr.test, which
# has no transport entry and no DNS, reach the peer through
# address_verify_sender_dependent_relayhost_maps.
r=$(rcpt "$P_V" sender@example.test good@sdr.test)
pt_check probe_sender_relayhost_250 [ "${r%% *}" = 250 ] || echo "$r"
pt_check peer_saw_sender_relayhost_probe grep -qi '^RCPT TO:<good@sdr.test>' "$T/peer.log"

# 9. Local probes: an existing user and an unknown one, nothing delivered.
r=$(rcpt "$P_V" sender@example.test alice@example.test)
pt_check local_user_250 [ "${r%% *}" = 250 ]
r=$(rcpt "$P_V" sender@example.test nosuchuser@example.test)
case $r in
"550 5.1.1 <nosuchuser@example.test>: Recipient address rejected: undeliverable address: unknown user: \"nosuchuser\"") pt_ok local_unknown_550 ;;
*) pt_fail local_unknown_550 "got: $r" ;;
esac
pt_check local_log_deliverable grep -q 'to=<alice@example.test>.*relay=local.*status=deliverable' "$T/maillog"
pt_wait_queue_empty 20
pt_check nothing_in_alice_maildir [ -z "$(find "$PT_HOMES/alice" -type f 2>/dev/null)" ]
pt_check queue_empty_at_end [ "$(pt_queue_count)" -eq 0 ]
pt_check peer_never_got_data bash -c "! grep -q '^DATA' '$T/peer.log'"

# 10. sendmail -bv (run by root, whose mail goes to alice by alias):
# nothing is delivered; the submitter gets a "Mail Delivery Status Report"
# listing what would happen to each address (-bv follows aliases).
out=$("$PT_BUILD/sbin/sendmail" -C "$PT_CONF" -bv root@example.test \
      nosuchuser@example.test good@remote.test bad@remote.test 2>&1 </dev/null)
pt_check sendmail_bv_says_report [ "$out" = "Mail Delivery Status Report will be mailed to <root>." ]
pt_wait "[ -n \"\$(ls '$PT_HOMES/alice/Maildir/new' 2>/dev/null)\" ]" 30
R=$(cat "$PT_HOMES"/alice/Maildir/new/* 2>/dev/null)
pt_check report_one_message [ "$(ls "$PT_HOMES/alice/Maildir/new" 2>/dev/null | wc -l)" = 1 ]
pt_check report_subject grep -q '^Subject: Mail Delivery Status Report' <<<"$R"
pt_check report_alias_expanded \
    grep -q '^<alice@mail.example.test> (expanded from <root@example.test>): delivers to mailbox of user alice' <<<"$R"
pt_check report_unknown_user grep -q '^<nosuchuser@example.test>: unknown user: "nosuchuser"' <<<"$R"
pt_check report_remote_good grep -q '^<good@remote.test>: 250 2.1.5 Ok' <<<"$R"
pt_check report_remote_bad \
    grep -q '^<bad@remote.test>: host 127.0.0.1\[127.0.0.1\] said: 550 5.1.1' <<<"$R"
pt_check report_actions bash -c "[ \$(grep -c '^Action: deliverable' <<<'$R') = 2 ] && [ \$(grep -c '^Action: undeliverable' <<<'$R') = 2 ]"
pt_wait_queue_empty 20
pt_check bv_queue_empty [ "$(pt_queue_count)" -eq 0 ]
pt_check bv_peer_no_data bash -c "! grep -q '^DATA' '$T/peer.log'"
pt_check bv_no_bounce grep -vq 'sender non-delivery notification' "$T/maillog"

# 10b. A result that arrives just before a stop still reaches the file:
# verify writes changes at most once a second, and at exit (lib/server runs
# its on_exit hook on SIGTERM). The stop comes well inside that second.
r=$(rcpt "$P_P" sender@example.test good@other.test)
pt_check stop_probe_pending [ "${r%% *}" = 450 ]
pt_wait "grep -q 'to=<good@other.test>.*status=deliverable' '$T/maillog'" 20
sleep 0.2
pt_stop
pt_wait "[ ! -e '$T/spool/pid/master.pid' ]" 20
pt_check result_written_at_stop bash -c "[[ \"\$(cache_has good@other.test)\" == 0:* ]]"

# 11. A second instance with address_verify_map empty (memory only) and
# address_verify_negative_cache = no: the failure is still reported, no
# cache file is written, and the next query probes again.
pt_instance
T2=$PT_T
P_V2=$(pt_free_port)
cp "$T/etc/transport" "$T/etc/vtransport" "$PT_CONF/"
pt_cmd postmap "$PT_CONF/transport"
pt_cmd postmap "$PT_CONF/vtransport"
cat >> "$PT_CONF/main.cf" <<EOF
transport_maps = hash:$PT_CONF/transport
relay_domains = remote.test, other.test
address_verify_poll_delay = 1s
address_verify_map =
address_verify_negative_cache = no
unverified_recipient_reject_code = 550
EOF
cat >> "$PT_CONF/master.cf" <<EOF
127.0.0.1:$P_V2 inet n - n - - smtpd
    -o smtpd_recipient_restrictions=reject_unauth_destination,reject_unverified_recipient
    -o address_verify_poll_count=5
EOF
pt_start || pt_fail start2 "second instance did not start"
pt_wait_smtp "$P_V2" 20
before=$(grep -c '^RCPT TO:<again@remote.test>' "$T/peer.log")
r=$(rcpt "$P_V2" sender@example.test again@remote.test)
pt_check memory_only_bad_550 [ "${r%% *}" = 550 ]
r=$(rcpt "$P_V2" sender@example.test again@remote.test)
pt_check memory_only_bad_550_again [ "${r%% *}" = 550 ]
pt_wait "[ \$(grep -c '^RCPT TO:<again@remote.test>' '$T/peer.log') -ge \$((before + 2)) ]" 20
pt_check negative_not_cached_probes_again \
    [ "$(grep -c '^RCPT TO:<again@remote.test>' "$T/peer.log")" -ge $((before + 2)) ]
pt_check memory_only_no_cache_file [ -z "$(find "$T2/data" -name 'verify_cache*' 2>/dev/null)" ]
pt_wait_queue_empty 20
pt_check second_queue_empty [ "$(pt_queue_count)" -eq 0 ]
pt_done
