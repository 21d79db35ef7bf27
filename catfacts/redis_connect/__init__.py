"""Redis as it is run: one URL names a server (with a password, over TLS, on a unix socket), a
master that Sentinels watch, or a Cluster, and serves both the shared limiter and the inbound
limit (flask-limiter, through `limits`).

    redis://[[user]:password@]host[:port][/db]
    rediss://[[user]:password@]host[:port][/db][?ssl_ca_certs=/path/ca.pem]     (TLS)
    unix:///path/to/redis.sock[?db=N]                                 (or redis+unix://)
    redis+sentinel://[[user]:password@]host:port[,host:port...]/service_name[/db]
    redis+cluster://[[user]:password@]host:port[,host:port...]       (any node or nodes)
    rediss+sentinel://..., rediss+cluster://...                                 (TLS)

These are the forms of the `limits` package; the few it lacks (a Sentinel's /db and password,
TLS to a Sentinel or a Cluster) `for_limits` turns into its options, so one URL means the same
Redis to both. The password is the data servers'; a Sentinel's own, if it has one, is
`?sentinel_password=`. TLS takes `ssl_ca_certs`, `ssl_certfile`, `ssl_keyfile`, `ssl_cert_reqs`
(required, optional, none) and `ssl_check_hostname` from the query; nothing else is accepted.

A failure is told as it is, in one sentence naming where (`explain`): a refused password is not
"unreachable", a cluster node named as a server is not a password problem. `check` asks Redis
once, for start-up and readiness. No Flask here: the limiter uses this from the background loop.
"""

from catfacts.redis_connect.clients import AsyncClient, SyncClient, check, for_limits
from catfacts.redis_connect.forms import CLUSTER, EXAMPLE, SENTINEL, SERVER, RedisForm, parse
from catfacts.redis_connect.verdicts import ERRORS, Verdict, explain, verdict
from catfacts.redis_connect.verdicts import _explain as _explain  # the limiter's; `verdict` is it

__all__ = [
    "CLUSTER",
    "ERRORS",
    "EXAMPLE",
    "SENTINEL",
    "SERVER",
    "AsyncClient",
    "RedisForm",
    "SyncClient",
    "Verdict",
    "check",
    "explain",
    "for_limits",
    "parse",
    "verdict",
]
