#!/bin/bash
# dane_test.sh - the smtp client's DANE levels (RFC 7672) against a real
# DNSSEC-signed zone and a validating resolver
#
# A private network namespace holds everything: nsd serves dane.example
# (signed with ldns-signzone) and plain.example (unsigned) on
# 127.0.0.1:5353; unbound on 127.0.0.1:53 validates with dane.example's KSK
# as its trust anchor and is the namespace's resolver (resolv.conf,
# bind-mounted by `ip netns exec`). A STARTTLS peer (tls_peer.py, a
# certificate from a throw-away CA naming every MX host) listens on
# 127.0.0.2 and up, port 25. The Postern instance has
# smtp_dns_support_level = dnssec and smtp_tls_security_level = dane.
# Checks: a matching DANE-EE(3) SPKI/sha256, DANE-TA(2) cert/sha256 and
# DANE-EE(3) cert/sha512 record each give a "Verified" delivery; a record
# that does not match defers with 4.7.5 after the handshake with nothing
# sent; a TLSA record whose signature does not verify (bogus, SERVFAIL)
# defers before any TLS; records that are all unusable (PKIX-TA) give
# mandatory TLS without authentication; a signed host without TLSA, and an unsigned zone (whose
# wrong TLSA record is ignored) fall back to "may"; dane-only for an
# unsigned destination defers; an unsigned MX pointing at a signed host
# uses its TLSA records with the default smtp_tls_dane_insecure_mx_policy
# (dane) and ignores them with "may". A host in the unsigned zone whose
# _tcp subdomain is a signed island (its own zone, its KSK a second trust
# anchor in unbound) has its TLSA record used only with
# smtp_tls_force_insecure_host_tlsa_lookup = yes ("Verified"); without it
# the host is not DANE-capable ("may"). An MX host that is a CNAME in the
# signed zone has its TLSA records looked up at the expanded name first
# (RFC 7672 section 2.2.2; a wrong record at the alias must not be used)
# and at the alias when the target has none.
#
# The script runs twice: outside (namespace, zones, keys, nsd and unbound;
# cleaned up on any exit) and inside (PT_DANE_INNER=1: instance, peer,
# checks). Skips only when network namespaces are unusable here.

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

# ---- outside: the namespace and its DNS -------------------------------------------------
if [ "${PT_DANE_INNER:-}" != 1 ]; then
    pt_netns_new ptdane
    for tool in nsd unbound ldns-keygen ldns-signzone openssl dig; do
        command -v "$tool" >/dev/null ||
            pt_netns_fail "${tool}_missing" "$tool is not installed (Debian nsd, unbound, ldnsutils, bind9-dnsutils)"
    done
    D=$PT_NS_DT
    chmod 755 "$D"

    # Certificates: a CA, a server certificate for every MX name (the
    # peer's chain), and an unrelated key for the mismatching record.
    names=DNS:mx.plain.example
    for n in 1 2 3 5 6 7; do names="$names,DNS:mx$n.dane.example"; done
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=Postern-DANE-Test-CA \
        -keyout "$D/ca.key" -out "$D/ca.pem" >/dev/null 2>&1
    openssl req -new -newkey rsa:2048 -nodes -subj /CN=mx1.dane.example -keyout "$D/mx.key" \
        -out "$D/mx.csr" >/dev/null 2>&1
    printf 'subjectAltName=%s\n' "$names" > "$D/mx.ext"
    openssl x509 -req -in "$D/mx.csr" -CA "$D/ca.pem" -CAkey "$D/ca.key" -CAcreateserial \
        -days 2 -extfile "$D/mx.ext" -out "$D/mx.pem" >/dev/null 2>&1
    cat "$D/mx.pem" "$D/ca.pem" > "$D/chain.pem"
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$D/other.key" 2>/dev/null
    chmod 644 "$D"/*.key
    ee_spki256=$(openssl x509 -in "$D/mx.pem" -noout -pubkey | openssl pkey -pubin -outform DER |
        sha256sum | cut -d' ' -f1)
    ee_cert512=$(openssl x509 -in "$D/mx.pem" -outform DER | sha512sum | cut -d' ' -f1)
    ta_cert256=$(openssl x509 -in "$D/ca.pem" -outform DER | sha256sum | cut -d' ' -f1)
    other256=$(openssl pkey -in "$D/other.key" -pubout -outform DER | sha256sum | cut -d' ' -f1)

    cat > "$D/dane.example.zone" <<EOF
\$ORIGIN dane.example.
\$TTL 300
@       IN SOA ns.dane.example. hostmaster.dane.example. 1 3600 600 86400 300
@       IN NS  ns.dane.example.
ns      IN A   127.0.0.1
@       IN MX  10 mx1.dane.example.
mx1     IN A   127.0.0.2
_25._tcp.mx1 IN TLSA 3 1 1 $ee_spki256
bad     IN MX  10 mx2.dane.example.
mx2     IN A   127.0.0.3
_25._tcp.mx2 IN TLSA 3 1 1 $other256
ta      IN MX  10 mx3.dane.example.
mx3     IN A   127.0.0.4
_25._tcp.mx3 IN TLSA 2 0 1 $ta_cert256
ee512   IN MX  10 mx5.dane.example.
mx5     IN A   127.0.0.6
_25._tcp.mx5 IN TLSA 3 0 2 $ee_cert512
pkix    IN MX  10 mx6.dane.example.
mx6     IN A   127.0.0.7
_25._tcp.mx6 IN TLSA 1 0 1 $ta_cert256
notlsa  IN MX  10 mx7.dane.example.
mx7     IN A   127.0.0.8
bogus   IN MX  10 mx8.dane.example.
mx8     IN A   127.0.0.9
_25._tcp.mx8 IN TLSA 3 1 1 $ee_spki256
alias   IN MX  10 mxc.dane.example.
mxc     IN CNAME mx9.dane.example.
_25._tcp.mxc IN TLSA 3 1 1 $other256
mx9     IN A   127.0.0.11
_25._tcp.mx9 IN TLSA 3 1 1 $ee_spki256
alias2  IN MX  10 mxd.dane.example.
mxd     IN CNAME mx10.dane.example.
_25._tcp.mxd IN TLSA 3 1 1 $ee_spki256
mx10    IN A   127.0.0.12
EOF
    cat > "$D/plain.example.zone" <<EOF
\$ORIGIN plain.example.
\$TTL 300
@       IN SOA ns.plain.example. hostmaster.plain.example. 1 3600 600 86400 300
@       IN NS  ns.plain.example.
ns      IN A   127.0.0.1
@       IN MX  10 mx.plain.example.
mx      IN A   127.0.0.5
_25._tcp.mx IN TLSA 3 1 1 $other256
only    IN MX  10 mx.plain.example.
cross   IN MX  10 mx1.dane.example.
cross2  IN MX  10 mx2.dane.example.
mxi     IN A   127.0.0.10
EOF
    # The island: _tcp.mxi.plain.example, signed, below the unsigned zone.
    cat > "$D/island.zone" <<EOF
\$ORIGIN _tcp.mxi.plain.example.
\$TTL 300
@       IN SOA ns.plain.example. hostmaster.plain.example. 1 3600 600 86400 300
@       IN NS  ns.plain.example.
_25     IN TLSA 3 1 1 $ee_spki256
EOF
    (cd "$D" &&
        ksk=$(ldns-keygen -a ECDSAP256SHA256 -k _tcp.mxi.plain.example) &&
        zsk=$(ldns-keygen -a ECDSAP256SHA256 _tcp.mxi.plain.example) &&
        ldns-signzone island.zone "$ksk" "$zsk" && cp "$ksk.key" island-anchor.key) \
        >"$D/sign-island.log" 2>&1 || pt_netns_fail island_sign "ldns-signzone failed: $(cat "$D/sign-island.log")"
    (cd "$D" &&
        ksk=$(ldns-keygen -a ECDSAP256SHA256 -k dane.example) &&
        zsk=$(ldns-keygen -a ECDSAP256SHA256 dane.example) &&
        ldns-signzone dane.example.zone "$ksk" "$zsk" && cp "$ksk.key" anchor.key) \
        >"$D/sign.log" 2>&1 || pt_netns_fail zone_sign "ldns-signzone failed: $(cat "$D/sign.log")"
    # mx8's TLSA record changed after signing: its signature no longer
    # matches, so the validating resolver answers SERVFAIL (bogus).
    awk -v h="$other256" '$1 ~ /^_25\._tcp\.mx8\./ && $4 == "TLSA" { $8 = h } { print }' \
        "$D/dane.example.zone.signed" > "$D/signed.tmp" &&
        mv "$D/signed.tmp" "$D/dane.example.zone.signed"
    grep -q "^_25\._tcp\.mx8\..*TLSA.*$other256" "$D/dane.example.zone.signed" ||
        pt_netns_fail zone_bogus "could not alter the TLSA record of mx8"

    cat > "$D/nsd.conf" <<EOF
server:
    ip-address: 127.0.0.1@5353
    port: 5353
    username: ""
    chroot: ""
    zonesdir: "$D"
    database: ""
    zonelistfile: "$D/zone.list"
    xfrdfile: "$D/xfrd.state"
    xfrdir: "$D"
    pidfile: "$D/nsd.pid"
    logfile: "$D/nsd.log"
    verbosity: 1
remote-control:
    control-enable: no
zone:
    name: dane.example
    zonefile: dane.example.zone.signed
zone:
    name: plain.example
    zonefile: plain.example.zone
zone:
    name: _tcp.mxi.plain.example
    zonefile: island.zone.signed
EOF
    cat > "$D/unbound.conf" <<EOF
server:
    interface: 127.0.0.1
    port: 53
    do-ip6: no
    username: ""
    chroot: ""
    directory: "$D"
    pidfile: "$D/unbound.pid"
    use-syslog: no
    logfile: "$D/unbound.log"
    verbosity: 1
    val-log-level: 2
    do-not-query-localhost: no
    qname-minimisation: no
    module-config: "validator iterator"
    trust-anchor-file: "$D/anchor.key"
    trust-anchor-file: "$D/island-anchor.key"
stub-zone:
    name: "dane.example"
    stub-addr: 127.0.0.1@5353
stub-zone:
    name: "plain.example"
    stub-addr: 127.0.0.1@5353
stub-zone:
    name: "_tcp.mxi.plain.example"
    stub-addr: 127.0.0.1@5353
EOF
    ip netns exec "$PT_NS" nsd -d -c "$D/nsd.conf" >"$D/nsd.err" 2>&1 &
    ip netns exec "$PT_NS" unbound -d -c "$D/unbound.conf" >"$D/unbound.err" 2>&1 &
    PT_NS_DNSPID=$!
    ready=
    for n in $(seq 100); do
        if ip netns exec "$PT_NS" dig +dnssec +time=1 +tries=1 @127.0.0.1 mx1.dane.example A \
                2>/dev/null | grep -q 'flags:.* ad'; then
            ready=1
            break
        fi
        kill -0 "$PT_NS_DNSPID" 2>/dev/null || break
        sleep 0.2
    done
    [ -n "$ready" ] || pt_netns_fail dns_ready \
        "unbound did not validate mx1.dane.example: $(tail -5 "$D/unbound.log" "$D/unbound.err" "$D/nsd.err" "$D/nsd.log" 2>/dev/null)"
    env PT_DANE_INNER=1 PT_DANE_DT="$D" ip netns exec "$PT_NS" bash "$HERE/$(basename "$0")" &
    PT_NS_INNERPID=$!
    wait "$PT_NS_INNERPID"
    rc=$?
    PT_NS_INNERPID=
    exit $rc
fi

# ---- inside the namespace ------------------------------------------------------------
D=$PT_DANE_DT
pt_setup_users
pt_instance
T=$PT_T
printf 'only.plain.example dane-only\n' > "$PT_CONF/tls_policy"
printf 'cross2.plain.example insecmay:\nforce.plain.example forcetlsa:[mxi.plain.example]\nnoforce.plain.example smtp:[mxi.plain.example]\n' > "$PT_CONF/transport"
cat >> "$PT_CONF/main.cf" <<EOF
smtp_dns_support_level = dnssec
smtp_tls_security_level = dane
smtp_tls_loglevel = 1
smtp_tls_policy_maps = texthash:$PT_CONF/tls_policy
transport_maps = texthash:$PT_CONF/transport
EOF
printf 'insecmay unix - - n - - smtp\n  -o smtp_tls_dane_insecure_mx_policy=may\n' \
    >> "$PT_CONF/master.cf"
printf 'forcetlsa unix - - n - - smtp\n  -o smtp_tls_force_insecure_host_tlsa_lookup=yes\n' \
    >> "$PT_CONF/master.cf"
PEERLOG=$T/peer.log
: > "$PEERLOG"
python3 "$HERE/tls_peer.py" "$PEERLOG" "$D/chain.pem" "$D/mx.key" \
    127.0.0.2:25 127.0.0.3:25 127.0.0.4:25 127.0.0.5:25 127.0.0.6:25 127.0.0.7:25 \
    127.0.0.8:25 127.0.0.9:25 127.0.0.10:25 127.0.0.11:25 127.0.0.12:25 >"$T/peer.err" 2>&1 &
PT_PIDS+=($!)
pt_wait_smtp 25 20 127.0.0.8 || pt_fail peer_start "tls_peer.py did not answer: $(cat "$T/peer.err")"
: > "$PEERLOG"
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }

log_has() { grep -Eq -- "$1" "$T/maillog" 2>/dev/null; }
wait_log() { pt_wait "log_has '$1'" "${2:-30}"; }
peer_has() { grep -Eq -- "$1" "$PEERLOG"; }
send() {
    local reply
    reply=$(pt_smtp_send alice@example.test "$1")
    [ "${reply%% *}" = 250 ] || pt_fail "accept_$1" "smtpd said: $reply"
}

pt_check resolver_validates bash -c "dig +dnssec mx1.dane.example A | grep -q 'flags:.* ad'"

# --- 1. DANE-EE(3) SPKI sha256 matches: Verified, delivered over TLS ------------------
send a@dane.example
wait_log 'to=<a@dane\.example>, .*status=' 30
pt_check ee_verified log_has 'Verified TLS connection established to mx1\.dane\.example\[127\.0\.0\.2\]:25'
pt_check ee_matched log_has 'mx1\.dane\.example\[127\.0\.0\.2\]:25: DANE-EE\(3\) TLSA record matched'
pt_check ee_sent log_has 'to=<a@dane\.example>, relay=mx1\.dane\.example\[127\.0\.0\.2\]:25, .*status=sent'
pt_check ee_peer_tls peer_has '^127\.0\.0\.2:25 mail tls=1 '

# --- 2. TLSA that matches nothing: deferred 4.7.5, nothing sent -----------------------
send b@bad.dane.example
wait_log 'to=<b@bad\.dane\.example>, .*status=' 30
pt_check mismatch_deferred log_has 'to=<b@bad\.dane\.example>, .*dsn=4\.7\.5, status=deferred \(Server certificate not verified: no TLSA record for mx2\.dane\.example matches'
pt_check mismatch_untrusted log_has 'Untrusted TLS connection established to mx2\.dane\.example\[127\.0\.0\.3\]:25'
pt_check mismatch_handshake_done peer_has '^127\.0\.0\.3:25 tls '
pt_check mismatch_nothing_sent bash -c "! grep -Eq '^127\.0\.0\.3:25 (mail|data)' '$PEERLOG'"
pt_check mismatch_still_queued [ "$(pt_queue_count)" -ge 1 ]

# --- 3. DANE-TA(2) certificate sha256 (the CA): Verified ------------------------------
send c@ta.dane.example
wait_log 'to=<c@ta\.dane\.example>, .*status=' 30
pt_check ta_verified log_has 'Verified TLS connection established to mx3\.dane\.example\[127\.0\.0\.4\]:25'
pt_check ta_matched log_has 'mx3\.dane\.example\[127\.0\.0\.4\]:25: DANE-TA\(2\) TLSA record matched'
pt_check ta_sent log_has 'to=<c@ta\.dane\.example>, .*status=sent'

# --- 4. DANE-EE(3) full certificate sha512: Verified ---------------------------------
send d@ee512.dane.example
wait_log 'to=<d@ee512\.dane\.example>, .*status=' 30
pt_check ee512_verified log_has 'Verified TLS connection established to mx5\.dane\.example\[127\.0\.0\.6\]:25'
pt_check ee512_sent log_has 'to=<d@ee512\.dane\.example>, .*status=sent'

# --- 5. only unusable records (PKIX-TA): mandatory TLS, no authentication -------------
send e@pkix.dane.example
wait_log 'to=<e@pkix\.dane\.example>, .*status=' 30
pt_check unusable_sent log_has 'to=<e@pkix\.dane\.example>, .*status=sent'
pt_check unusable_not_verified log_has 'Untrusted TLS connection established to mx6\.dane\.example\[127\.0\.0\.7\]:25'
pt_check unusable_peer_tls peer_has '^127\.0\.0\.7:25 mail tls=1 '

# --- 6. a signed host without TLSA: "may" ---------------------------------------------
send f@notlsa.dane.example
wait_log 'to=<f@notlsa\.dane\.example>, .*status=' 30
pt_check notlsa_sent log_has 'to=<f@notlsa\.dane\.example>, .*status=sent'
pt_check notlsa_may log_has 'Untrusted TLS connection established to mx7\.dane\.example\[127\.0\.0\.8\]:25'

# --- 7. an unsigned zone: its (wrong) TLSA record is ignored, "may" --------------------
send g@plain.example
wait_log 'to=<g@plain\.example>, .*status=' 30
pt_check unsigned_sent log_has 'to=<g@plain\.example>, relay=mx\.plain\.example\[127\.0\.0\.5\]:25, .*status=sent'
pt_check unsigned_may log_has 'Untrusted TLS connection established to mx\.plain\.example\[127\.0\.0\.5\]:25'

# --- 8. dane-only (policy table) for an unsigned destination: deferred ------------------
mails_before=$(grep -c '^127\.0\.0\.5:25 mail' "$PEERLOG")
send h@only.plain.example
wait_log 'to=<h@only\.plain\.example>, .*status=' 30
pt_check daneonly_deferred log_has 'to=<h@only\.plain\.example>, .*dsn=4\.7\.5, status=deferred \(non DNSSEC destination\)'
pt_check daneonly_nothing_sent [ "$(grep -c '^127\.0\.0\.5:25 mail' "$PEERLOG")" = "$mails_before" ]

# --- 9. unsigned MX, signed host: DANE with the default insecure-MX policy ("dane") -----
send i@cross.plain.example
wait_log 'to=<i@cross\.plain\.example>, .*status=' 30
pt_check insecure_mx_dane log_has 'to=<i@cross\.plain\.example>, relay=mx1\.dane\.example\[127\.0\.0\.2\]:25, .*status=sent'
pt_check insecure_mx_verified bash -c "[ \$(grep -c 'Verified TLS connection established to mx1\.dane\.example' '$T/maillog') -ge 2 ]"

# --- 10. ... and with smtp_tls_dane_insecure_mx_policy = may: TLSA not used -------------
send j@cross2.plain.example
wait_log 'to=<j@cross2\.plain\.example>, .*status=' 30
pt_check insecure_mx_may_sent log_has 'to=<j@cross2\.plain\.example>, relay=mx2\.dane\.example\[127\.0\.0\.3\]:25, .*status=sent'

# --- 11. a bogus TLSA RRset (signature mismatch): a lookup error, deferred ---------------
send k@bogus.dane.example
wait_log 'to=<k@bogus\.dane\.example>, .*status=' 30
pt_check bogus_deferred log_has 'to=<k@bogus\.dane\.example>, .*dsn=4\.7\.5, status=deferred \(TLSA lookup error for mx8\.dane\.example:25\)'
pt_check bogus_nothing_sent bash -c "! grep -Eq '^127\.0\.0\.9:25 (tls|mail)' '$PEERLOG'"

# --- 12. unsigned host, signed TLSA island: used only when forced ---------------------
pt_check island_validates bash -c "dig +dnssec _25._tcp.mxi.plain.example TLSA | grep -q 'flags:.* ad'"
pt_check island_host_insecure bash -c "! dig +dnssec mxi.plain.example A | grep -q 'flags:.* ad'"
send l@force.plain.example
wait_log 'to=<l@force\.plain\.example>, .*status=' 30
pt_check force_tlsa_verified log_has 'Verified TLS connection established to mxi\.plain\.example\[127\.0\.0\.10\]:25'
pt_check force_tlsa_matched log_has 'mxi\.plain\.example\[127\.0\.0\.10\]:25: DANE-EE\(3\) TLSA record matched'
pt_check force_tlsa_sent log_has 'to=<l@force\.plain\.example>, .*status=sent'
send m@noforce.plain.example
wait_log 'to=<m@noforce\.plain\.example>, .*status=' 30
pt_check noforce_sent log_has 'to=<m@noforce\.plain\.example>, .*status=sent'
pt_check noforce_may log_has 'Untrusted TLS connection established to mxi\.plain\.example\[127\.0\.0\.10\]:25'
pt_check noforce_once bash -c "[ \$(grep -c 'Verified TLS connection established to mxi\.plain' '$T/maillog') = 1 ]"

# --- 13. CNAME expansion of the TLSA base domain --------------------------------------
send n@alias.dane.example
wait_log 'to=<n@alias\.dane\.example>, .*status=' 30
pt_check cname_target_tlsa_verified log_has 'Verified TLS connection established to mxc\.dane\.example\[127\.0\.0\.11\]:25'
pt_check cname_target_tlsa_sent log_has 'to=<n@alias\.dane\.example>, relay=mxc\.dane\.example\[127\.0\.0\.11\]:25, .*status=sent'
send o@alias2.dane.example
wait_log 'to=<o@alias2\.dane\.example>, .*status=' 30
pt_check cname_alias_tlsa_verified log_has 'Verified TLS connection established to mxd\.dane\.example\[127\.0\.0\.12\]:25'
pt_check cname_alias_tlsa_sent log_has 'to=<o@alias2\.dane\.example>, .*status=sent'

pt_done
