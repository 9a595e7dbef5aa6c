"""Posthorn nodes on one PostgreSQL, for the cluster tests (test_cluster.py, test_cluster_faults.py):
each node with `[store] backend = "postgresql"`, its own port base and data folder (holding nothing
but config and TLS keys), and a database of its own per cluster on the module's private PostgreSQL
(the `pg` fixture; pgserver.py). Import `pg` into a test module to use it."""
import uuid

import pytest

from conftest import PASSWORD, USER, Server
from pgserver import PgServer


@pytest.fixture(scope="module")
def pg():
    server = PgServer()
    yield server
    server.stop()


def database_url(pg, name):
    pg.psql(f"CREATE DATABASE {name}")
    return pg.url.rsplit("/", 1)[0] + "/" + name


def use_postgresql(node, url):
    text = node.config.read_text()
    node.config.write_text(text + f'\n[store]\nbackend = "postgresql"\nurl = "{url}"\npool_size = 4\n')


class Cluster:
    """`nodes` started nodes sharing one new database, with the domain and the test user made once.
    `extra_config` is appended to every node's config before it starts."""

    def __init__(self, tmp_path, pg, nodes=2, extra_config=""):
        self.url = database_url(pg, "c_" + uuid.uuid4().hex[:12])
        self.nodes = []
        for i in range(nodes):
            n = Server(tmp_path / f"node{i}")
            n.init_folder()  # the domain and the user go into the shared database once, below
            use_postgresql(n, self.url)
            if extra_config:
                with n.config.open("a") as f:
                    f.write("\n" + extra_config)
            self.nodes.append(n)
        self.nodes[0].cli("domain", "add", "example.test")
        self.nodes[0].cli("user", "add", USER, "--password-stdin", input=PASSWORD + "\n")
        for n in self.nodes:
            n.start()

    def stop(self):
        return [n.stop() for n in self.nodes]
