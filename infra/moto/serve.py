"""Serve moto like moto_server, one request at a time.

moto_server handles requests on threads without isolating DynamoDB
transactions from each other (a failed transaction even restores a copy of
the whole table), which DynamoDB never does. Serializing requests gives
transactions DynamoDB's all-or-nothing, one-after-another semantics while
clients still race each other between their calls.

Usage: python3 serve.py [-H HOST] [-p PORT]
"""

import argparse
import os
import threading

from werkzeug.serving import run_simple
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app


def serialized(app):
    lock = threading.Lock()

    def wrapped(environ, start_response):
        with lock:
            return list(app(environ, start_response))

    return wrapped


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5000)
    args = parser.parse_args()
    os.environ.setdefault("MOTO_PORT", str(args.port))
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(args.host, args.port, serialized(app), threaded=True)


if __name__ == "__main__":
    main()
