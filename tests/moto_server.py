"""moto's S3 server, its connections without Nagle's algorithm: ``python tests/moto_server.py -H HOST -p PORT``.

moto serves through werkzeug's development server, which writes a response's
headers and its body in two sends on a socket with Nagle's algorithm on: the
body waits for the client to acknowledge the headers, and a client whose
kernel delays that acknowledgement waits 10 ms more. Measured in rounds of
300 PUTs of 700 bytes: sent from a thread pool (as the log's commits are),
4–31% of them took the 10 ms more (19% or more in 3 of 4 rounds); sent in a
plain loop, 1–3% until the client's pool held several connections, then
19–22%. With TCP_NODELAY on the accepted sockets, as production HTTP servers
set it: 0–1% over 10 ms in 8 rounds (the fault proxy, tests/fault_proxy.py,
sets it too). An S3 that does not stall like that is what the tests and the
benchmarks mean to talk to.
"""

from __future__ import annotations

import sys

from werkzeug import serving

# socketserver's own switch: TCP_NODELAY on every connection the handler takes.
serving.WSGIRequestHandler.disable_nagle_algorithm = True

if __name__ == "__main__":
    from moto.server import main

    sys.exit(main(sys.argv[1:]))
