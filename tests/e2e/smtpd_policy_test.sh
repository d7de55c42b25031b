#!/bin/bash
# smtpd_policy_test.sh - check_policy_service against a real instance: a
# Python policy server (started here) records every request attribute and
# answers one action per request in turn; each action's effect is checked
# (reply codes, hold queue, delivered header, redirect, discard, warn log);
# connection reuse; an unreachable server gives the default action; the
# 3.x "{ endpoint, default_action=DUNNO }" form; real Postgrey defers a
# first attempt with 450 4.2.0 and accepts the retry after its delay.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/smtpd_restrict_lib.sh"
pt_setup_users; pt_clean_homes
pt_instance
C=$PT_CONF
PPORT=$(pt_free_port); DEADPORT=$(pt_free_port); GPORT=$(pt_free_port); PORT2=$(pt_free_port)
cat >> "$C/main.cf" <<EOM
home_mailbox = Maildir/
smtpd_peername_lookup = no
smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination,
    check_policy_service inet:127.0.0.1:$PPORT
mynetworks = 127.0.0.99/32
smtpd_policy_service_try_limit = 1
smtpd_policy_service_policy_context = ctx-main
EOM
cat >> "$C/master.cf" <<EOM
127.0.0.1:$PORT2 inet n - n - - smtpd
  -o smtpd_recipient_restrictions=check_policy_service,inet:127.0.0.1:$DEADPORT
EOM
# The policy server: one action per request from ACTIONS, requests logged.
cat > "$PT_T/policy.py" <<'EOP'
import socket, sys, threading
port, log, actions = int(sys.argv[1]), sys.argv[2], sys.argv[3].split("|")
n = [0]; conns = [0]
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port)); srv.listen(5)
def serve(c):
    f = c.makefile("rb")
    while True:
        req = []
        while True:
            l = f.readline()
            if not l:
                return
            l = l.decode().rstrip("\n")
            if l == "":
                break
            req.append(l)
        with open(log, "a") as o:
            o.write("conn=%d\n" % conns[0] + "\n".join(req) + "\n\n")
        a = actions[n[0] % len(actions)]; n[0] += 1
        c.sendall(("action=%s\n\n" % a).encode())
while True:
    c, _ = srv.accept(); conns[0] += 1
    threading.Thread(target=serve, args=(c,), daemon=True).start()
EOP
ACTIONS='OK|REJECT policy says no|DEFER|DUNNO|450 4.7.9 slow down|PREPEND X-Policy: yes|HOLD|DISCARD|FILTER discard:policyfilter|REDIRECT bob@example.test|WARN policy warning'
python3 "$PT_T/policy.py" "$PPORT" "$PT_T/policy.log" "$ACTIONS" & PT_PIDS+=($!)
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }

msg() { pt_rdialog "EHLO client.example" "MAIL FROM:<sender@example.org> SIZE=100" "RCPT TO:<$1>" DATA; }
out=$(msg alice@example.test); pt_expect policy_ok '^EOM => 250 2\.0\.0 Ok: queued' "$out"
out=$(msg alice@example.test); pt_expect policy_reject '^RCPT TO:<alice@example.test> => 554 5\.7\.1 <alice@example\.test>: Recipient address rejected: policy says no$' "$out"
out=$(msg alice@example.test); pt_expect policy_defer '^RCPT TO:<alice@example.test> => 450 4\.7\.1 <alice@example\.test>: Recipient address rejected: Access denied$' "$out"
out=$(msg alice@example.test); pt_expect policy_dunno '^EOM => 250 2\.0\.0 Ok: queued' "$out"
out=$(msg alice@example.test); pt_expect policy_nnn '^RCPT TO:<alice@example.test> => 450 4\.7\.9 <alice@example\.test>: Recipient address rejected: slow down$' "$out"
out=$(msg carol@example.test); pt_expect policy_prepend_accepted '^EOM => 250 2\.0\.0 Ok: queued' "$out"
pt_check policy_prepend_delivered pt_wait "grep -qs '^X-Policy: yes' $PT_HOMES/carol/Maildir/new/*" 20
out=$(msg alice@example.test); pt_expect policy_hold_accepted '^EOM => 250 2\.0\.0 Ok: queued' "$out"
pt_check policy_hold_queue pt_wait "[ \$(find $PT_T/spool/hold -type f | wc -l) = 1 ]" 10
pt_check policy_hold_postqueue bash -c "PATH=$PT_BUILD/sbin:\$PATH $PT_BUILD/sbin/postqueue -c $C -p | grep -q '!'"
out=$(msg alice@example.test); pt_expect policy_discard '^EOM => 250 2\.0\.0 Ok: queued' "$out"
pt_check policy_discard_logged pt_wait "grep -q 'discard: RCPT from .*triggers DISCARD action' $PT_T/maillog" 10
out=$(msg alice@example.test)
pt_check policy_filter pt_wait "grep -q 'postfix/discard.*status=sent (policyfilter)' $PT_T/maillog" 20
out=$(msg alice@example.test)
pt_check policy_redirect pt_wait "[ \$(ls $PT_HOMES/bob/Maildir/new 2>/dev/null | wc -l) = 1 ]" 20
out=$(pt_rdialog "EHLO client.example" "MAIL FROM:<sender@example.org>" "RCPT TO:<alice@example.test>")
pt_expect policy_warn_accepts '^RCPT TO:<alice@example.test> => 250 2\.1\.5 Ok$' "$out"
pt_check policy_warn_logged grep -q 'warn: RCPT from unknown\[127.0.0.1\]: <alice@example.test>: Recipient address policy warning' "$PT_T/maillog"

# Every documented attribute is sent.
L=$PT_T/policy.log
for a in request=smtpd_access_policy protocol_state=RCPT protocol_name=ESMTP helo_name=client.example \
         queue_id= sender=sender@example.org recipient=alice@example.test recipient_count=0 \
         client_address=127.0.0.1 client_name=unknown reverse_client_name= instance= sasl_method= \
         sasl_username= sasl_sender= size=100 ccert_subject= ccert_issuer= ccert_fingerprint= \
         ccert_pubkey_fingerprint= encryption_protocol= encryption_cipher= encryption_keysize= \
         etrn_domain= stress= server_address=127.0.0.1 server_port=$PT_PORT policy_context=ctx-main \
         compatibility_level= mail_version= client_port=; do
    pt_check "policy_attr_${a%%=*}" grep -q "^$a" "$L"
done
pt_check policy_connection_reused [ "$(grep -c '^conn=1$' "$L")" -ge 2 ]

# Unreachable policy server: default action 451 4.3.5, server still answers.
out=$(pt_rdialog -p "$PORT2" "EHLO client.example" "MAIL FROM:<s@example.org>" "RCPT TO:<alice@example.test>" NOOP)
pt_expect policy_default_action '^RCPT TO:<alice@example.test> => 451 4\.3\.5 <alice@example\.test>: Recipient address rejected: Server configuration problem$' "$out"
pt_expect policy_still_serving '^NOOP => 250 ' "$out"

# The 3.x braced form with its own default_action.
pt_stop
sed -i "s|check_policy_service,inet:127.0.0.1:$DEADPORT|check_policy_service,{inet:127.0.0.1:$DEADPORT,timeout=5s,default_action=DUNNO}|" "$C/master.cf"
pt_start || { pt_fail restart "instance did not restart"; pt_done; exit 1; }
out=$(pt_rdialog -p "$PORT2" "EHLO client.example" "MAIL FROM:<s@example.org>" "RCPT TO:<alice@example.test>")
pt_expect policy_braced_default_dunno '^RCPT TO:<alice@example.test> => 250 2\.1\.5 Ok$' "$out"

# Real Postgrey: first attempt greylisted, retry after the delay accepted.
if command -v postgrey >/dev/null || [ -x /usr/sbin/postgrey ]; then
    mkdir -p "$PT_T/pg"; chown postgrey: "$PT_T/pg" 2>/dev/null || chmod 777 "$PT_T/pg"
    /usr/sbin/postgrey --inet=127.0.0.1:$GPORT --dbdir="$PT_T/pg" --delay=2 --pidfile="$PT_T/pg.pid" \
        --user="$(id -un postgrey 2>/dev/null || echo nobody)" >"$PT_T/pg.out" 2>&1 & PT_PIDS+=($!)
    pt_wait "python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", $GPORT), 1)' 2>/dev/null" 20
    pt_stop
    sed -i "s|check_policy_service inet:127.0.0.1:$PPORT|check_policy_service inet:127.0.0.1:$GPORT|" "$C/main.cf"
    pt_start || { pt_fail restart2 "instance did not restart"; pt_done; exit 1; }
    out=$(pt_rdialog "EHLO client.example" "MAIL FROM:<grey@example.org>" "RCPT TO:<alice@example.test>")
    pt_expect postgrey_defers_first '^RCPT TO:<alice@example.test> => 450 4\.2\.0 <alice@example\.test>: Recipient address rejected: Greylisted' "$out"
    sleep 3   # postgrey --delay=2: the retry must come later than that
    out=$(pt_rdialog "EHLO client.example" "MAIL FROM:<grey@example.org>" "RCPT TO:<alice@example.test>")
    pt_expect postgrey_accepts_retry '^RCPT TO:<alice@example.test> => 250 2\.1\.5 Ok$' "$out"
    [ -f "$PT_T/pg.pid" ] && kill "$(cat "$PT_T/pg.pid")" 2>/dev/null
else
    pt_fail postgrey_installed "postgrey is not installed (scripts/install-deps test)"
fi
pt_done
