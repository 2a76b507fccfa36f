#!/usr/bin/env bash
# Checks deploy/ without a container engine (none runs on CI machines):
#   - the compose file parses (Debian's docker-compose, which needs no engine for `config`);
#   - the Prometheus config, the alert rules and their unit tests (promtool, Debian's prometheus);
#   - the Grafana dashboard is valid JSON and each of its queries is valid PromQL;
#   - the systemd units (systemd-analyze verify, when present);
#   - the devnet shell scripts parse (sh -n).
# That every metric the dashboard and the alerts query exists in a real
# node's and relayer's /metrics is a Rust test: tests/tests/it/deploy.rs.
#
#   ./scripts/deploy_check.sh        (scripts/test.sh runs it)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi

# Whether apt has an installable version of the package. The output is
# read whole: under pipefail, `apt-cache policy | grep -q` fails when grep
# exits at its match before apt-cache has written everything (SIGPIPE).
has_candidate() {
    local policy
    policy=$(apt-cache policy "$1" 2>/dev/null) || return 1
    [[ $policy == *"Candidate: "[0-9]* ]]
}

# Installs the Debian packages named, if the commands they bring are missing.
apt_install() { # pairs of COMMAND PACKAGE
    local missing=() package stale=
    while [ $# -gt 0 ]; do
        command -v "$1" >/dev/null 2>&1 || missing+=("$2")
        shift 2
    done
    [ ${#missing[@]} -eq 0 ] && return
    echo "installing ${missing[*]}"
    for package in "${missing[@]}"; do
        has_candidate "$package" || stale=1
    done
    if [ -n "$stale" ]; then
        $SUDO apt-get update -qq
    fi
    for package in "${missing[@]}"; do
        if ! has_candidate "$package"; then
            echo "deploy check: no Debian package $package here" >&2
            exit 1
        fi
    done
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    # The prometheus package enables its server; where systemd runs, leave
    # none running (only promtool is wanted).
    if [[ " ${missing[*]} " == *" prometheus "* ]] && [ -d /run/systemd/system ]; then
        $SUDO systemctl disable --now prometheus >/dev/null 2>&1 || true
    fi
}
apt_install docker-compose docker-compose promtool prometheus

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

echo "docker-compose config: deploy/docker-compose.yml"
docker-compose -f deploy/docker-compose.yml config -q

promtool check config deploy/prometheus/prometheus.yml
promtool check rules deploy/prometheus/alerts.yml
promtool test rules deploy/prometheus/alerts_test.yml

echo "dashboard: valid JSON, every query valid PromQL"
dashboard=deploy/grafana/dashboards/outrigger.json
python3 -m json.tool "$dashboard" >/dev/null
# Each panel query as a recording rule, Grafana's variables replaced by
# values, so that promtool parses it.
python3 - "$dashboard" >"$scratch/dashboard_rules.yml" <<'EOF'
import json, sys
dashboard = json.load(open(sys.argv[1]))
def panels(items):
    for panel in items:
        yield panel
        yield from panels(panel.get("panels", []))
exprs = [t["expr"] for p in panels(dashboard["panels"]) for t in p.get("targets", [])]
if not exprs:
    sys.exit("the dashboard has no queries")
print("groups:\n  - name: dashboard\n    rules:")
for i, expr in enumerate(exprs):
    for var, value in [("$__rate_interval", "1m"), ("$__interval", "1m"), ("$node", ".*"), ("$relayer", ".*")]:
        expr = expr.replace(var, value)
    if "$" in expr:
        sys.exit(f"unknown Grafana variable in {expr}")
    print(f"      - record: dashboard:query_{i}\n        expr: {json.dumps(expr)}")
EOF
promtool check rules "$scratch/dashboard_rules.yml" >/dev/null
# Grafana's provisioning parses, and the dashboard's datasource is the one
# provisioned (Debian's python3-yaml comes with docker-compose).
/usr/bin/python3 - "$dashboard" deploy/grafana/provisioning/*/*.yml <<'EOF'
import json, sys, yaml
dashboard, files = sys.argv[1], sys.argv[2:]
uids = set()
for name in files:
    for source in (yaml.safe_load(open(name)) or {}).get("datasources", []):
        uids.add(source["uid"])
used = set()
def walk(value):
    if isinstance(value, dict):
        if isinstance(value.get("datasource"), dict):
            used.add(value["datasource"].get("uid"))
        for item in value.values():
            walk(item)
    elif isinstance(value, list):
        for item in value:
            walk(item)
walk(json.load(open(dashboard)))
if not used <= uids:
    sys.exit(f"the dashboard uses datasources {sorted(used - uids)}, provisioned: {sorted(uids)}")
EOF

if command -v systemd-analyze >/dev/null 2>&1; then
    echo "systemd-analyze verify: deploy/systemd/*.service"
    # verify insists that ExecStart's binary exists: point it at one that does.
    binary=$(command -v true)
    for unit in deploy/systemd/*.service; do
        sed "s|/usr/local/bin/outrigger|$binary|" "$unit" >"$scratch/$(basename "$unit")"
    done
    systemd-analyze verify "$scratch"/*.service
else
    echo "systemd-analyze not found: units not verified"
fi

for script in deploy/devnet/*.sh; do
    sh -n "$script"
done
echo "deploy check: ok"
