#!/usr/bin/python3
"""Sign a message with dkimpy (Debian's python3-dkim) for
check_dkim_verify: code we did not write makes the vectors we verify.

dkim_vectors.py KEYFILE SELECTOR DOMAIN ALG CANON LENGTH [HEADERS] < MSG

ALG rsa-sha256, ed25519-sha256 or rsa-sha1; CANON header/body
(relaxed/simple); LENGTH 1 adds l=; HEADERS a comma-separated h= list
(names may repeat or be absent from the message).  Prints the
DKIM-Signature field, CRLF-ended."""
import sys

import dkim


def main():
    keyfile, selector, domain, alg, canon, length = sys.argv[1:7]
    headers = None
    if len(sys.argv) > 7:
        headers = [h.encode() for h in sys.argv[7].split(",")]
    message = sys.stdin.buffer.read()
    with open(keyfile, "rb") as f:
        key = f.read()
    hc, bc = canon.encode().split(b"/")
    sig = dkim.sign(message, selector.encode(), domain.encode(), key,
                    canonicalize=(hc, bc),
                    signature_algorithm=alg.encode(),
                    include_headers=headers, length=length == "1")
    sys.stdout.buffer.write(sig)


if __name__ == "__main__":
    main()
