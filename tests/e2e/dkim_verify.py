#!/usr/bin/env python3
# dkim_verify.py MESSAGE DNSFILE - verifies every DKIM-Signature of MESSAGE
# with dkimpy (Debian python3-dkim), the public keys coming from DNSFILE
# ("NAME. TXT-RECORD" lines) instead of DNS. Prints one line per signature:
# "d=DOMAIN a=ALGORITHM ok|fail". Used by dkim_test.sh and
# milter_opendkim_test.sh.
import re
import sys

import dkim

raw = open(sys.argv[1], 'rb').read().replace(b'\r\n', b'\n').replace(b'\n', b'\r\n')
txt = {}
for line in open(sys.argv[2]):
    name, _, rec = line.strip().partition(' ')
    txt[name] = rec.encode()


def dnsfunc(name, timeout=5):
    n = name.decode() if isinstance(name, bytes) else name
    return txt.get(n if n.endswith('.') else n + '.')


d = dkim.DKIM(raw)
for i in range(len(re.findall(rb'^DKIM-Signature:', raw, re.M | re.I))):
    try:
        ok = d.verify(idx=i, dnsfunc=dnsfunc)
    except dkim.ValidationError:
        ok = False
    sig = dict(d.signature_fields) if d.signature_fields else {}
    print("d=%s a=%s %s" % (sig.get(b'd', b'?').decode(), sig.get(b'a', b'?').decode(),
                            "ok" if ok else "fail"))
