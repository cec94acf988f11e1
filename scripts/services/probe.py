#!/usr/bin/env python3
"""Readiness probes for scripts/services.sh, standard library only.

They prove that the server really answers its own protocol, not just that a port is open:
  probe.py kafka HOST:PORT      ApiVersions + Metadata round trip   -> prints cluster id
  probe.py cql   HOST:PORT      CQL v4 STARTUP + QUERY round trip   -> prints release_version
Exit status 0 when the server answered, 1 otherwise (reason on stderr).
A JVM-based check (kafka-topics, nodetool) would cost 1-3 s of CPU per poll on a 2-core box;
this costs a few milliseconds.
"""
import socket
import struct
import sys

TIMEOUT_S = 5.0


def recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("server closed the connection")
        buf += chunk
    return bytes(buf)


def connect(addr):
    host, _, port = addr.rpartition(":")
    return socket.create_connection((host, int(port)), timeout=TIMEOUT_S)


class Reader:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def take(self, fmt):
        size = struct.calcsize(fmt)
        vals = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return vals[0] if len(vals) == 1 else vals

    def kstring(self):  # Kafka (nullable) STRING: int16 length, -1 = null
        n = self.take(">h")
        if n < 0:
            return None
        s = self.data[self.pos:self.pos + n].decode()
        self.pos += n
        return s

    def cstring(self):  # CQL [string]: unsigned short length
        n = self.take(">H")
        s = self.data[self.pos:self.pos + n].decode()
        self.pos += n
        return s


# ---------------------------------------------------------------- Kafka
def kafka_call(sock, api_key, version, corr, body):
    client_id = b"sluice-probe"
    # Request header v1: api_key, api_version, correlation_id, client_id.
    header = struct.pack(">hhih", api_key, version, corr, len(client_id)) + client_id
    msg = header + body
    sock.sendall(struct.pack(">i", len(msg)) + msg)
    size = struct.unpack(">i", recv_exact(sock, 4))[0]
    resp = Reader(recv_exact(sock, size))
    if resp.take(">i") != corr:
        raise RuntimeError("correlation id mismatch")
    return resp


def probe_kafka(addr):
    with connect(addr) as sock:
        # ApiVersions v0 (always supported) tells which Metadata versions the broker speaks.
        r = kafka_call(sock, 18, 0, 1, b"")
        err = r.take(">h")
        if err != 0:
            raise RuntimeError(f"ApiVersions error {err}")
        versions = {}
        for _ in range(r.take(">i")):
            key, lo, hi = r.take(">hhh")
            versions[key] = (lo, hi)
        lo, hi = versions.get(3, (99, -1))
        # Metadata v4..v7 share the request layout and the response prefix parsed below.
        v = max(lo, 4)
        if v > min(hi, 7):
            raise RuntimeError(f"broker speaks Metadata v{lo}..v{hi}, probe needs v4..v7")
        # Body: topics = null (all topics), allow_auto_topic_creation = false.
        r = kafka_call(sock, 3, v, 2, struct.pack(">ib", -1, 0))
        r.take(">i")  # throttle_time_ms
        brokers = []
        for _ in range(r.take(">i")):
            node = r.take(">i")
            host = r.kstring()
            port = r.take(">i")
            r.kstring()  # rack
            brokers.append(f"{node}@{host}:{port}")
        cluster_id = r.kstring()
        controller = r.take(">i")
        if not brokers or controller < 0:
            raise RuntimeError("metadata has no live broker/controller yet")
        print(f"cluster {cluster_id}, brokers {','.join(brokers)}")


# ---------------------------------------------------------------- CQL
def cql_frame(opcode, body, stream=1):
    return struct.pack(">BBhBi", 0x04, 0, stream, opcode, len(body)) + body


def cql_read(sock):
    version, _flags, _stream, opcode, length = struct.unpack(">BBhBi", recv_exact(sock, 9))
    body = Reader(recv_exact(sock, length))
    if opcode == 0x00:  # ERROR
        code = body.take(">i")
        raise RuntimeError(f"CQL error 0x{code:04x}: {body.cstring()}")
    return opcode, body


def probe_cql(addr):
    with connect(addr) as sock:
        # STARTUP {CQL_VERSION: 3.0.0} -> READY (AUTHENTICATE would mean auth is on).
        opts = {"CQL_VERSION": "3.0.0"}
        body = struct.pack(">H", len(opts))
        for k, val in opts.items():
            body += struct.pack(">H", len(k)) + k.encode() + struct.pack(">H", len(val)) + val.encode()
        sock.sendall(cql_frame(0x01, body))
        opcode, _ = cql_read(sock)
        if opcode != 0x02:
            raise RuntimeError(f"expected READY, got opcode 0x{opcode:02x}")
        # QUERY at consistency ONE, no flags -> RESULT Rows.
        q = b"SELECT release_version FROM system.local"
        sock.sendall(cql_frame(0x07, struct.pack(">i", len(q)) + q + struct.pack(">HB", 0x0001, 0), 2))
        opcode, r = cql_read(sock)
        if opcode != 0x08 or r.take(">i") != 0x0002:
            raise RuntimeError("expected a Rows result")
        flags, ncols = r.take(">ii")
        if flags & 0x0002:  # has_more_pages: paging state
            r.pos += 4 + r.take(">i")
        if flags & 0x0001:  # global_tables_spec
            r.cstring(), r.cstring()
        for _ in range(ncols):
            if not flags & 0x0001:
                r.cstring(), r.cstring()
            r.cstring()  # column name
            r.take(">H")  # type id (varchar: no extra option)
        if r.take(">i") < 1:
            raise RuntimeError("system.local returned no row")
        n = r.take(">i")
        print(r.data[r.pos:r.pos + n].decode())


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("kafka", "cql"):
        print(__doc__, file=sys.stderr)
        return 2
    try:
        (probe_kafka if sys.argv[1] == "kafka" else probe_cql)(sys.argv[2])
        return 0
    except (OSError, RuntimeError, struct.error, ValueError) as e:
        print(f"{sys.argv[1]} probe {sys.argv[2]}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
