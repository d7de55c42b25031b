#!/bin/bash
# smtp_mx_error_test.sh - ignore_mx_lookup_error: a domain whose MX query
# gets no usable answer (SERVFAIL) while its address record resolves.
#   - default (no): the mail is deferred with the name service error, as
#     RFC 5321 wants;
#   - yes: the smtp client treats the failed MX query like "no MX records"
#     and delivers to the domain's address (a smtp-sink on 127.0.0.7:25).
# In a private network namespace (pt_netns_dns): dnsmasq forwards
# mxerr.example to a small responder (below) on 127.0.0.1:5300 that answers
# SERVFAIL to MX queries and 127.0.0.7 to A queries.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

pt_netns_dns PT_MXERR_INNER ptmxe probe.mxe.example 127.0.0.9 \
    --host-record=probe.mxe.example,127.0.0.9 \
    --server=/mxerr.example/127.0.0.1#5300

# ---- inside the namespace ------------------------------------------------------------

pt_setup_users
pt_instance
T=$PT_T
python3 - <<'EOP' >"$T/dns.log" 2>&1 &
import socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 5300))
while True:
    q, peer = s.recvfrom(512)
    if len(q) < 12:
        continue
    qid, flags = struct.unpack(">HH", q[:4])
    i = 12
    while q[i] != 0:
        i += q[i] + 1
    qtype = struct.unpack(">H", q[i + 1:i + 3])[0]
    question = q[12:i + 5]
    rd = flags & 0x0100
    if qtype == 15:                         # MX: server failure
        r = struct.pack(">HHHHHH", qid, 0x8082 | rd, 1, 0, 0, 0) + question
    elif qtype == 1:                        # A: 127.0.0.7
        r = (struct.pack(">HHHHHH", qid, 0x8480 | rd, 1, 1, 0, 0) + question
             + struct.pack(">HHHIH", 0xC00C, 1, 1, 60, 4) + bytes([127, 0, 0, 7]))
    else:                                   # anything else: no data
        r = struct.pack(">HHHHHH", qid, 0x8480 | rd, 1, 0, 0, 0) + question
    s.sendto(r, peer)
EOP
DNS_PID=$!
mkdir -p "$T/dump"
"$PT_BUILD/sbin/smtp-sink" -d "$T/dump/" 127.0.0.7:25 64 >/dev/null 2>&1 &
SINK_PID=$!
trap 'kill $DNS_PID $SINK_PID 2>/dev/null; pt_cleanup' EXIT
pt_wait_smtp 25 20 127.0.0.7 || { pt_fail sink "smtp-sink did not start"; pt_done; exit 1; }
pt_check address_resolves pt_wait "getent hosts mxerr.example | grep -q 127.0.0.7" 10
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }

log_has() { grep -Eq -- "$1" "$T/maillog" 2>/dev/null; }
printf 'Subject: mxerr\n\nbody\n' | pt_cmd sendmail -f sender@example.test user@mxerr.example
pt_check default_defers pt_wait "log_has 'to=<user@mxerr.example>.*status=deferred'" 30
pt_check default_says_mx log_has 'to=<user@mxerr.example>.*type=MX'
pt_check default_not_delivered [ -z "$(ls "$T/dump" 2>/dev/null)" ]

pt_cmd postconf -e ignore_mx_lookup_error=yes
pt_cmd postfix reload >/dev/null 2>&1
sleep 2
pt_cmd postqueue -f
pt_check ignored_delivered pt_wait "log_has 'to=<user@mxerr.example>, relay=mxerr.example\[127.0.0.7\]:25.*status=sent'" 30
pt_check ignored_reached_sink pt_wait '[ -n "$(ls "$T/dump" 2>/dev/null)" ]' 10

pt_stop
pt_done
