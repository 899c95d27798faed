"""moto's server with one request handled at a time.

moto's backends are not safe under concurrent requests: `Shard.put_record` reads the highest
sequence number and writes the next one without a lock ("this function is not safe for
concurrency"), so two PutRecords calls in flight at once can get the same sequence number and
one record silently replaces the other. With 16 concurrent writers on a loaded 2-core machine
it lost 1,668 of 48,000 records. Real Kinesis does not do that, and a test that counts records
must not see it, so every request runs under one lock. moto's work is pure Python under the
GIL, so the lock costs little throughput. Connections stay concurrent (threaded server).

Usage: python moto_server.py HOST PORT [CERT KEY]   (with CERT and KEY: HTTPS)
"""

import os
import sys
import threading

from moto.server import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple


def serialized(app):
    lock = threading.Lock()

    def handle(environ, start_response):
        with lock:
            result = app(environ, start_response)
            try:
                # moto builds whole responses in memory: drain it under the lock too.
                return [b"".join(result)]
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()

    return handle


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    tls = (sys.argv[3], sys.argv[4]) if len(sys.argv) > 4 else None
    os.environ.setdefault("MOTO_PORT", str(port))
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(
        host,
        port,
        serialized(app),
        threaded=True,
        request_handler=MotoRequestHandler,
        ssl_context=tls,
    )


if __name__ == "__main__":
    main()
