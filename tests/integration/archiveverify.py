"""An archive verifier written from ispmail-archive(5) alone, with
hashlib and hmac: the tests check ispmail's files with it, so the man
page is shown to be enough to verify an archive without our code.

verify(domain_dir, key) returns a list of problems (empty: intact);
records(domain_dir) returns every record as a dict, in order."""

import hashlib
import hmac
import os
import re
import urllib.parse

FRAME = b"ISPMAIL-ARCHIVE 1 "
ZERO = "0" * 64
SEGMENT_NAME = re.compile(r"^(\d{16})\.seg$")


class Damaged(Exception):
    pass


def parse_segment(data):
    """The records of one segment file: dicts with the header fields
    (rcpt as a list), 'body', 'payload', 'offset' and 'hash'."""
    out = []
    off = 0
    while off < len(data):
        nl = data.find(b"\n", off)
        if nl < 0 or not data.startswith(FRAME, off):
            raise Damaged("no frame at offset %d" % off)
        length = int(data[off + len(FRAME):nl])
        body = data[nl + 1:nl + 1 + length]
        if len(body) != length or data[nl + 1 + length:nl + 2 + length] \
                != b"\n":
            raise Damaged("record at offset %d is cut short" % off)
        end = body.find(b"\n\n")
        if end < 0:
            raise Damaged("header without an end at offset %d" % off)
        rec = {"rcpt": [], "offset": off, "body": body,
               "payload": body[end + 2:],
               "hash": hashlib.sha256(body).hexdigest()}
        for line in body[:end].split(b"\n"):
            name, _, value = line.partition(b"=")
            value = urllib.parse.unquote_to_bytes(value).decode(
                "utf-8", "replace")
            name = name.decode()
            if name == "rcpt":
                rec["rcpt"].append(value)
            else:
                rec[name] = value
        for num in ("n", "segment", "time", "size", "records",
                    "removed_first", "removed_last"):
            if num in rec:
                rec[num] = int(rec[num])
        out.append(rec)
        off = nl + 2 + length
    return out


def segments(domain_dir):
    found = []
    for name in os.listdir(domain_dir):
        m = SEGMENT_NAME.match(name)
        if m:
            found.append((int(m.group(1)), os.path.join(domain_dir, name)))
    return sorted(found)


def records(domain_dir):
    out = []
    for _, path in segments(domain_dir):
        with open(path, "rb") as f:
            out.extend(parse_segment(f.read()))
    return out


def verify(domain_dir, key):
    problems = []
    segs = segments(domain_dir)
    prev_hash = None
    expect_n = None
    first_open = None
    retention = []
    for i, (number, path) in enumerate(segs):
        if i > 0 and number != segs[i - 1][0] + 1:
            problems.append("segments %d to %d missing"
                            % (segs[i - 1][0] + 1, number - 1))
            prev_hash = expect_n = None
        with open(path, "rb") as f:
            data = f.read()
        try:
            recs = parse_segment(data)
        except Damaged as e:
            problems.append("segment %d: %s" % (number, e))
            prev_hash = expect_n = None
            continue
        sealed = False
        for k, r in enumerate(recs):
            if sealed:
                problems.append("segment %d: record after the seal" % number)
            if r["segment"] != number:
                problems.append("segment %d: record n=%d belongs to "
                                "segment %d" % (number, r["n"],
                                                r["segment"]))
            if k == 0:
                if r["type"] != "open":
                    problems.append("segment %d: no open record" % number)
                if i == 0:
                    first_open = r
            if expect_n is not None and r["n"] != expect_n:
                problems.append("segment %d: record n=%d where n=%d was "
                                "due" % (number, r["n"], expect_n))
            elif prev_hash is not None and r["prev"] != prev_hash:
                problems.append("segment %d: record n=%d does not chain: "
                                "record n=%d changed"
                                % (number, r["n"], r["n"] - 1))
            if r["type"] == "message":
                if hashlib.sha256(r["payload"]).hexdigest() != r["sha256"]:
                    problems.append("segment %d: record n=%d message "
                                    "changed" % (number, r["n"]))
                if len(r["payload"]) != r["size"]:
                    problems.append("segment %d: record n=%d size"
                                    % (number, r["n"]))
            if r["type"] == "retention":
                retention.append((r["removed_last"], r["anchor"]))
            if r["type"] == "seal":
                sealed = True
                mac = hmac.new(key, data[:r["offset"]],
                               hashlib.sha256).hexdigest()
                if mac != r["hmac"]:
                    problems.append("segment %d: seal does not verify"
                                    % number)
                if r["records"] != k:
                    problems.append("segment %d: seal counts %d records, "
                                    "not %d" % (number, r["records"], k))
            prev_hash = r["hash"]
            expect_n = r["n"] + 1
        if not sealed and i + 1 < len(segs):
            problems.append("segment %d: not sealed" % number)
    if first_open is not None:
        first = segs[0][0]
        if first == 1:
            if first_open["prev"] != ZERO or first_open["n"] != 1:
                problems.append("segment 1 does not start the archive")
        elif (first - 1, first_open["prev"]) not in retention:
            problems.append("segments 1 to %d missing without a retention "
                            "record" % (first - 1))
    return problems
