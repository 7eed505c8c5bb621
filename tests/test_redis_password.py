"""The embedded Redis that ``noether up`` starts needs a password that only the lab's user can read."""

from __future__ import annotations

import stat
import subprocess

import pytest
import redis

from lab.redis_server import RedisServer


def test_the_embedded_redis_refuses_a_client_without_its_password(tmp_path):
    with RedisServer(tmp_path / "redis", appendonly=False) as server:
        anonymous = redis.Redis(host="127.0.0.1", port=server.port, socket_timeout=5)
        with pytest.raises(redis.AuthenticationError):
            anonymous.ping()
        with pytest.raises(redis.AuthenticationError):  # e.g. enqueueing a pickled job for a worker
            anonymous.lpush("rq:queue:noether", b"job")
        anonymous.close()
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(host="127.0.0.1", port=server.port, password="guess").ping()

        client = redis.Redis.from_url(server.url)
        assert client.ping()
        client.close()
        password = server.password_path
        assert stat.S_IMODE(password.stat().st_mode) == 0o600
        assert stat.S_IMODE(password.parent.stat().st_mode) == 0o700
        # the password is not on the server's command line, which any local user can read with ps
        cmdline = subprocess.run(["ps", "-o", "args=", "-p", str(server.proc.pid)], capture_output=True,
                                 text=True).stdout
        assert server.password not in cmdline and server.password in server.url
        first = server.password
    with RedisServer(tmp_path / "redis", appendonly=False) as again:  # a restart keeps the password
        assert again.password == first
        assert redis.Redis.from_url(again.url).ping()
