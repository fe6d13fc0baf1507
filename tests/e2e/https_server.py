"""A threaded HTTPS file server for end-to-end tests.

    https_server.py ADDR PORT CERT KEY ROOT

Serves ROOT over TLS on ADDR:PORT, one thread per connection: a request a
tool holds back never holds up the others (openssl s_server serves one
connection at a time).
"""
import functools
import http.server
import ssl
import sys

addr, port, cert, key, root = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=root)
srv = http.server.ThreadingHTTPServer((addr, port), handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
