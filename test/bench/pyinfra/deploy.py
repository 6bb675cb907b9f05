# The secure rollout (playbooks/secure.yml) written the way a pyinfra user would, for
# `npm run bench` only, beside test/bench/ansible/secure.yml: the same job on the same lab fleet,
# dry (`pyinfra --dry --diff`) and for real (`pyinfra -y`). Only pyinfra's own operations and
# facts, and the same end state as the Ansible playbook: backends on TLS, agents on wss://
# (`rollout secure --check` after it still wants a few changes: see README.md).
#
# The bench writes the inventory (test/bench/pyinfra.ts): groups `backends` and `agents`, each
# host's ssh_* data (address, port, key, the lab's known_hosts checked strictly), `_sudo`, and
# sensu_ca_file / sensu_cert_file / sensu_key_file as absolute paths on the controller, e.g.:
#   pyinfra -y inventory.py test/bench/pyinfra/deploy.py
#
# Same steps as the Ansible playbook: preflight (every host reachable with sudo and healthy before
# anything changes), certificates into /etc/sensu/tls, backends restarted one at a time behind a
# health gate over TLS, then every agent on wss:// behind its /healthz. What pyinfra has no
# equivalent for is in README.md beside this file.
import json

from pyinfra import host, inventory
from pyinfra.api.exceptions import PyinfraError
from pyinfra.facts.server import Command
from pyinfra.operations import files, server
from pyinfra.operations.util import any_changed

address = host.data.ssh_hostname
is_backend = "backends" in host.groups
BACKEND_CONFIG = host.data.get("sensu_backend_config", "/etc/sensu/backend.yml")
AGENT_CONFIG = host.data.get("sensu_agent_config", "/etc/sensu/agent.yml")

# ── Preflight ────────────────────────────────────────────────────────────────────────────────
# Facts run in --dry too, so this checks the fleet before any operation is even planned. A
# backend already on TLS answers plain http with 400, hence the second try over https.
if is_backend:
    health = host.get_fact(
        Command,
        f"curl -sS --max-time 5 http://{address}:8080/health | grep ClusterHealth"
        f" || curl -sS --max-time 5 --cacert /etc/sensu/tls/ca.pem https://{address}:8080/health"
        " || true",
    )
    try:
        members = json.loads(health or "{}").get("ClusterHealth") or []
    except ValueError:
        members = []
    if not members or not all(m.get("Healthy") for m in members):
        raise PyinfraError(f"{host.name}: etcd not healthy before the rollout: {health!r}")
else:
    code = host.get_fact(Command, f"curl -s -o /dev/null -w '%{{http_code}}' --max-time 5 http://{address}:3031/healthz || true")
    if code != "200":
        raise PyinfraError(f"{host.name}: agent /healthz answered {code!r} before the rollout")

# ── Distribute: certificates onto every host; nothing reads them yet ─────────────────────────
# root's, readable by the sensu group: a directory sensu could write would let it swap the keys.
files.directory(name="Create /etc/sensu/tls", path="/etc/sensu/tls", user="root", group="sensu", mode="750")
files.put(
    name="Upload the CA",
    src=host.data.sensu_ca_file,
    dest="/etc/sensu/tls/ca.pem",
    user="sensu",
    group="sensu",
    mode="644",
)

if is_backend:
    files.put(
        name="Upload the backend certificate",
        src=host.data.sensu_cert_file,
        dest=f"/etc/sensu/tls/{host.name}.pem",
        user="sensu",
        group="sensu",
        mode="644",
    )
    files.put(
        name="Upload the backend key",
        src=host.data.sensu_key_file,
        dest=f"/etc/sensu/tls/{host.name}.key",
        user="sensu",
        group="sensu",
        mode="400",
    )

    # ── Backends serve TLS ───────────────────────────────────────────────────────────────────
    edits = [
        files.line(
            name=f"Backend {key}",
            path=BACKEND_CONFIG,
            line=f"^{key}:.*$",
            replace=f'{key}: "{value}"',
        )
        for key, value in (
            ("cert-file", f"/etc/sensu/tls/{host.name}.pem"),
            ("key-file", f"/etc/sensu/tls/{host.name}.key"),
            ("trusted-ca-file", "/etc/sensu/tls/ca.pem"),
        )
    ]
    edits.append(
        files.replace(
            name="Serve the API over https",
            path=BACKEND_CONFIG,
            text=r'^(api-url:\s*"?)http://',
            replace=r"\1https://",
            extended_regex=True,
        )
    )
    # Restart and gate in one command, one backend at a time (_serial): two separate operations
    # would restart every backend before the first gate, and etcd would lose its quorum.
    server.shell(
        name="Restart sensu-backend, wait until healthy over TLS",
        commands=[
            "systemctl restart sensu-backend",
            "for i in $(seq 45); do"
            f" curl -fsS --max-time 5 --cacert /etc/sensu/tls/ca.pem https://{address}:8080/health"
            " | python3 -c 'import json,sys; m=json.load(sys.stdin)[\"ClusterHealth\"]; sys.exit(0 if m and all(x[\"Healthy\"] for x in m) else 1)'"
            " && exit 0; sleep 2; done; exit 1",
        ],
        _serial=True,
        _if=any_changed(*edits),
    )

# ── Barrier: every backend serves TLS with a healthy etcd ───────────────────────────────────
# pyinfra orders operations as a graph of each host's own sequence; backends and agents share no
# operation after the CA upload, so without one the agents' edits and restarts run level by level
# beside the backends' (observed: agents restarted onto wss:// before any backend served TLS,
# and their gates failed). One operation every host runs joins the two sequences here.
backend_addresses = [b.data.ssh_hostname for b in inventory.get_group("backends")]
server.shell(
    name="Every backend serves TLS",
    commands=[
        f"curl -fsS -o /dev/null --max-time 10 --cacert /etc/sensu/tls/ca.pem https://{b}:8080/health"
        for b in backend_addresses
    ],
)

if not is_backend:
    # ── Agents dial wss:// and trust the CA ──────────────────────────────────────────────────
    trust = files.line(
        name="Trust the CA",
        path=AGENT_CONFIG,
        line="^trusted-ca-file:.*$",
        replace='trusted-ca-file: "/etc/sensu/tls/ca.pem"',
    )
    wss = files.replace(
        name="Switch every backend-url to wss://",
        path=AGENT_CONFIG,
        text=r"(^|[[:space:]\"'\[,])ws://",
        replace=r"\1wss://",
        extended_regex=True,
    )
    server.shell(
        name="Restart sensu-agent, wait until connected",
        commands=[
            "systemctl restart sensu-agent",
            f"for i in $(seq 30); do curl -fsS -o /dev/null --max-time 5 http://{address}:3031/healthz && exit 0; sleep 2; done; exit 1",
        ],
        _if=any_changed(trust, wss),
    )
