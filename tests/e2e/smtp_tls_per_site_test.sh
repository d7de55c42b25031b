#!/bin/bash
# smtp_tls_per_site_test.sh - the older TLS settings of the smtp client:
# smtp_tls_per_site, smtp_enforce_tls with smtp_tls_enforce_peername
#
# A private network namespace holds everything: a dnsmasq serving MX and
# address records (pt_netns_dns), a STARTTLS peer (tls_peer.py, a
# certificate from a throw-away CA naming mx.tls.example and
# mx.mustnone.example) on 127.0.0.2:25, reached under those names and also
# as mx.alias.example, which the certificate does not name; a plaintext
# peer (smtp-sink) on 127.0.0.3:25. The Postern instance has
# smtp_tls_security_level = may, the CA as smtp_tls_CAfile and
# smtp_tls_per_site = texthash:FILE. Each case's sender names it, so the
# peer's log shows whether that message came over TLS.
# Checks: MUST verifies the MX name (sent "Verified"; a name the
# certificate lacks defers 4.7.5), MUST_NOPEERMATCH requires TLS only
# (sent; a server without STARTTLS defers), an entry for the MX host name
# alone applies, NONE turns the "may" level off, NONE beats a MAY for the
# other name and MUST beats NONE, an unknown word defers with a warning,
# smtp_enforce_tls = yes verifies the name unless
# smtp_tls_enforce_peername = no, and with smtp_tls_policy_maps set the
# per-site table is ignored with a warning.

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

pt_netns_dns PT_SITE_INNER ptsite mx.tls.example 127.0.0.2 \
    --host-record=mx.tls.example,127.0.0.2 \
    --host-record=mx.alias.example,127.0.0.2 \
    --host-record=mx.mustnone.example,127.0.0.2 \
    --host-record=mx.nonemay.example,127.0.0.2 \
    --host-record=mx.plain.example,127.0.0.3 \
    --host-record=mx.hostmust.example,127.0.0.3 \
    --mx-host=mustdest.example,mx.tls.example,10 \
    --mx-host=mismatch.example,mx.alias.example,10 \
    --mx-host=nopeer.example,mx.alias.example,10 \
    --mx-host=mustplain.example,mx.plain.example,10 \
    --mx-host=hostmust.example,mx.hostmust.example,10 \
    --mx-host=nonedest.example,mx.tls.example,10 \
    --mx-host=nonemay.example,mx.nonemay.example,10 \
    --mx-host=mustnone.example,mx.mustnone.example,10 \
    --mx-host=bogus.example,mx.tls.example,10 \
    --mx-host=legacy1.example,mx.alias.example,10 \
    --mx-host=legacy2.example,mx.alias.example,10 \
    --mx-host=both.example,mx.plain.example,10

# ---- inside the namespace ------------------------------------------------------------
pt_setup_users
pt_instance
T=$PT_T
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=Postern-Site-Test-CA \
    -keyout "$T/ca.key" -out "$T/ca.pem" >/dev/null 2>&1
openssl req -new -newkey rsa:2048 -nodes -subj /CN=mx.tls.example -keyout "$T/mx.key" \
    -out "$T/mx.csr" >/dev/null 2>&1
printf 'subjectAltName=DNS:mx.tls.example,DNS:mx.mustnone.example\n' > "$T/mx.ext"
openssl x509 -req -in "$T/mx.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial \
    -days 2 -extfile "$T/mx.ext" -out "$T/mx.pem" >/dev/null 2>&1
cat "$T/mx.pem" "$T/ca.pem" > "$T/chain.pem"

cat > "$PT_CONF/tls_per_site" <<'EOF'
mustdest.example        MUST
mismatch.example        MUST
nopeer.example          MUST_NOPEERMATCH
mustplain.example       MUST_NOPEERMATCH
mx.hostmust.example     MUST_NOPEERMATCH
nonedest.example        NONE
nonemay.example         MAY
mx.nonemay.example      NONE
mustnone.example        MUST
mx.mustnone.example     NONE
bogus.example           BOGUS
both.example            MUST_NOPEERMATCH
EOF
printf 'both.example may\n' > "$PT_CONF/tls_policy"
cat > "$PT_CONF/transport" <<'EOF'
legacy1.example legacy1:
legacy2.example legacy2:
both.example    both:
EOF
cat >> "$PT_CONF/main.cf" <<EOF
smtp_tls_security_level = may
smtp_tls_CAfile = $T/ca.pem
smtp_tls_loglevel = 1
smtp_tls_per_site = texthash:$PT_CONF/tls_per_site
transport_maps = texthash:$PT_CONF/transport
EOF
cat >> "$PT_CONF/master.cf" <<EOF
legacy1 unix - - n - - smtp
  -o smtp_tls_per_site= -o smtp_tls_security_level= -o smtp_enforce_tls=yes
legacy2 unix - - n - - smtp
  -o smtp_tls_per_site= -o smtp_tls_security_level= -o smtp_enforce_tls=yes
  -o smtp_tls_enforce_peername=no
both unix - - n - - smtp
  -o smtp_tls_policy_maps=texthash:$PT_CONF/tls_policy
EOF

PEERLOG=$T/peer.log
: > "$PEERLOG"
python3 "$HERE/tls_peer.py" "$PEERLOG" "$T/chain.pem" "$T/mx.key" 127.0.0.2:25 \
    >"$T/peer.err" 2>&1 &
PT_PIDS+=($!)
mkdir -p "$T/plain"
"$PT_BUILD/sbin/smtp-sink" -d "$T/plain/" 127.0.0.3:25 10 >"$T/sink.log" 2>&1 &
PT_PIDS+=($!)
{ pt_wait_smtp 25 20 127.0.0.2 && pt_wait_smtp 25 20 127.0.0.3; } ||
    pt_fail peers_start "a peer did not answer: $(cat "$T/peer.err" "$T/sink.log")"
: > "$PEERLOG"
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }

log_has() { grep -Eq -- "$1" "$T/maillog" 2>/dev/null; }
wait_log() { pt_wait "log_has '$1'" "${2:-30}"; }
peer_has() { grep -Eq -- "$1" "$PEERLOG"; }
# send CASE DOMAIN: a message from CASE@example.test to u@DOMAIN; waits
# for its delivery status in the log.
send() {
    local reply
    reply=$(pt_smtp_send "$1@example.test" "u@$2")
    [ "${reply%% *}" = 250 ] || pt_fail "accept_$1" "smtpd said: $reply"
    wait_log "to=<u@${2//./\\.}>, .*status=" 30
}
sent() { log_has "to=<u@${1//./\\.}>, .*status=sent"; }
# deferred DOMAIN DSN TEXT: its message was deferred with that status.
deferred() { log_has "to=<u@${1//./\\.}>, .*dsn=${2//./\\.}, status=deferred \\($3"; }
peer_tls() { peer_has "^127\\.0\\.0\\.2:25 mail tls=$2 FROM:<$1@example\\.test>"; }

# --- MUST: TLS, and the certificate names the MX host ----------------------------------
send must mustdest.example
pt_check must_sent sent mustdest.example
pt_check must_verified log_has 'Verified TLS connection established to mx\.tls\.example\[127\.0\.0\.2\]:25'
pt_check must_peer_tls peer_tls must 1
send mismatch mismatch.example
pt_check must_name_mismatch_deferred deferred mismatch.example 4.7.5 'Server certificate not verified'
pt_check must_name_mismatch_nothing_sent bash -c "! grep -q 'FROM:<mismatch@' '$PEERLOG'"

# --- MUST_NOPEERMATCH: TLS required, the name not checked --------------------------------
send nopeer nopeer.example
pt_check nopeermatch_sent sent nopeer.example
pt_check nopeermatch_peer_tls peer_tls nopeer 1
send mustplain mustplain.example
pt_check nopeermatch_no_starttls_deferred deferred mustplain.example 4.7.4 'TLS is required, but was not offered'
pt_check nopeermatch_no_starttls_not_sent bash -c "! grep -rqs 'mustplain@' '$T/plain'"

# --- an entry for the server's MX name alone ------------------------------------------
send hostmust hostmust.example
pt_check host_entry_applies deferred hostmust.example 4.7.4 'TLS is required, but was not offered'

# --- NONE: no TLS although the level is "may" ---------------------------------------------
handshakes=$(grep -c ' tls version' "$PEERLOG")
send none nonedest.example
pt_check none_sent sent nonedest.example
pt_check none_plaintext peer_tls none 0
pt_check none_no_handshake [ "$(grep -c ' tls version' "$PEERLOG")" = "$handshakes" ]
# NONE for the MX name beats MAY for the domain; MUST beats NONE.
send nonemay nonemay.example
pt_check none_beats_may peer_tls nonemay 0
send mustnone mustnone.example
pt_check must_beats_none peer_tls mustnone 1
pt_check must_beats_none_verified log_has 'Verified TLS connection established to mx\.mustnone\.example\[127\.0\.0\.2\]:25'

# --- an unknown word: deferred, never sent with less ----------------------------------------
send bogus bogus.example
pt_check unknown_deferred deferred bogus.example 4.7.5 'client TLS configuration problem'
pt_check unknown_warned log_has "warning: .*tls_per_site: unknown TLS policy 'BOGUS' for next-hop destination bogus\.example"
pt_check unknown_not_sent bash -c "! grep -q 'FROM:<bogus@' '$PEERLOG'"

# --- smtp_enforce_tls = yes: "verify" unless smtp_tls_enforce_peername = no -------------------
send legacy1 legacy1.example
pt_check enforce_verifies_name deferred legacy1.example 4.7.5 'Server certificate not verified'
send legacy2 legacy2.example
pt_check enforce_without_peername_sent sent legacy2.example
pt_check enforce_without_peername_tls peer_tls legacy2 1

# --- with smtp_tls_policy_maps the per-site table is ignored ------------------------------------
send both both.example
pt_check policy_maps_wins_sent sent both.example
pt_check policy_maps_wins_plaintext bash -c "grep -rqs 'both@' '$T/plain'"
pt_check per_site_ignored_warned log_has 'warning: smtp_tls_per_site is ignored when smtp_tls_policy_maps is not empty'
pt_check no_unsupported_warning bash -c "! grep -q 'is not supported by Postern' '$T/maillog'"
pt_done
