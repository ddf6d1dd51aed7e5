"""Serve moto like moto_server, one request at a time, with its streams
kept whole across cancelled transactions and secrets found by name in one
step.

moto_server handles requests on threads without isolating DynamoDB
transactions from each other (a failed transaction even restores a copy of
the whole table), which DynamoDB never does. Serializing requests gives
transactions DynamoDB's all-or-nothing, one-after-another semantics while
clients still race each other between their calls.

A cancelled TransactWriteItems replaces the table with a copy taken before
it, stream shard included, while every shard iterator handed out already
keeps reading the old shard: that one holds the cancelled writes' records
and receives nothing more. A reader following the stream (make run-moto's
publisher, the tests) then announced a refused create and nothing after
it. DynamoDB's stream never holds a cancelled write, and its iterators see
every later one: so here the restored table keeps the shard its readers
hold, without the records the cancelled transaction added.

Usage: python3 serve.py [-H HOST] [-p PORT]
"""

import argparse
import os
import threading

from werkzeug.serving import run_simple
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import StreamShard
from moto.secretsmanager.models import SecretsStore
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app


def keep_streams_whole():
    """Make a cancelled transaction leave each table's stream shard, the
    object its iterators read, as it was before the transaction.

    The copy moto takes before a transaction shares the shard instead of
    copying it (with every record the table's stream ever held, which made
    each transaction cost more than the last); the rollback below cuts the
    shared shard back to where it was."""
    StreamShard.__deepcopy__ = lambda self, memo: self
    transact = DynamoDBBackend.transact_write_items

    def transact_write_items(self, transact_items):
        shards = {name: (t.stream_shard, len(t.stream_shard.items))
                  for name, t in self.tables.items() if t.stream_shard is not None}
        try:
            return transact(self, transact_items)
        except Exception:
            for name, (shard, length) in shards.items():
                del shard.items[length:]
                table = self.tables.get(name)
                if table is not None and table.stream_shard is not shard:
                    table.stream_shard, shard.table = shard, table
            raise

    DynamoDBBackend.transact_write_items = transact_write_items


def find_secrets_by_name():
    """Look a secret up by its name in one step before moto's walk of every
    secret (which it needs for ARNs): with 10,000 secrets each read walked
    them all, several times, and a health pass spent its time there. The
    answer is the same: the store is keyed by name."""
    for method in ("__getitem__", "get"):
        walk = getattr(SecretsStore, method)

        def fast(self, key, _walk=walk):
            found = dict.get(self, key)
            return found if found is not None else _walk(self, key)

        setattr(SecretsStore, method, fast)
    contains = SecretsStore.__contains__
    SecretsStore.__contains__ = lambda self, key: dict.__contains__(self, key) or contains(self, key)


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
    keep_streams_whole()
    find_secrets_by_name()
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(args.host, args.port, serialized(app), threaded=True)


if __name__ == "__main__":
    main()
