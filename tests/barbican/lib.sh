# shellcheck shell=bash
# SPDX-License-Identifier: Apache-2.0
# tests/barbican/lib.sh: a real Barbican (and Keystone) from Debian's packages on
# 127.0.0.1, everything in one state folder. Source it; the caller stops the
# servers (kill_servers DIR) from its own EXIT trap.
#   free_port                     an unused TCP port
#   barbican_setup DIR PORT [KEYSTONE_PORT]   config (no-auth, or behind Keystone)
#   keystone_setup DIR PORT BARBICAN_PORT      database, users, catalog (about 30 s)
#   server_start KIND DIR PORT [TIMEOUT]       start and wait until it listens
#   server_launch KIND DIR PORT, server_wait KIND DIR PORT [TIMEOUT]: the same in two steps
#   server_stop DIR KIND, kill_servers DIR

PY=/usr/bin/python3
BARBICAN_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

free_port() {
    $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

barbican_setup() {
    local dir=$1 port=$2 kport=${3:-} pipeline=barbican_api_noauth
    mkdir -p "$dir/barbican/.barbican"
    [[ -n $kport ]] && pipeline=barbican_api_keystone
    cat >"$dir/barbican/.barbican/barbican.conf" <<CONF
[DEFAULT]
sql_connection = sqlite:///$dir/barbican/barbican.sqlite
db_auto_create = True
host_href = http://127.0.0.1:$port
log_file = $dir/barbican/barbican-api.log
[secretstore]
enabled_secretstore_plugins = store_crypto
[crypto]
enabled_crypto_plugins = simple_crypto
[simple_crypto_plugin]
kek = $(head -c 32 /dev/urandom | base64)
[keystone_authtoken]
www_authenticate_uri = http://127.0.0.1:$kport
auth_url = http://127.0.0.1:$kport
auth_type = password
username = barbican
password = barbicanpw
project_name = service
user_domain_name = Default
project_domain_name = Default
CONF
    chmod 0600 "$dir/barbican/.barbican/barbican.conf"
    cat >"$dir/barbican/barbican-api-paste.ini" <<INI
[composite:main]
use = egg:Paste#urlmap
/: barbican_version
/v1: $pipeline
[pipeline:barbican_version]
pipeline = http_proxy_to_wsgi versionapp
[pipeline:barbican_api_noauth]
pipeline = http_proxy_to_wsgi unauthenticated-context microversion apiapp
[pipeline:barbican_api_keystone]
pipeline = http_proxy_to_wsgi authtoken context microversion apiapp
[app:apiapp]
paste.app_factory = barbican.api.app:create_main_app
[app:versionapp]
paste.app_factory = barbican.api.app:create_version_app
[filter:unauthenticated-context]
paste.filter_factory = barbican.api.middleware.context:UnauthenticatedContextMiddleware.factory
[filter:context]
paste.filter_factory = barbican.api.middleware.context:ContextMiddleware.factory
[filter:authtoken]
paste.filter_factory = keystonemiddleware.auth_token:filter_factory
[filter:microversion]
paste.filter_factory = barbican.api.middleware.microversion:MicroversionMiddleware.factory
[filter:http_proxy_to_wsgi]
paste.filter_factory = oslo_middleware:HTTPProxyToWSGI.factory
INI
}

_kmanage() {
    # keystone-manage prints harmless eventlet tracebacks at exit: kept in a log only.
    keystone-manage --config-file "$KDIR/keystone.conf" "$@" >>"$KDIR/manage.log" 2>&1
}

# bootstrap USER PASSWORD PROJECT ROLE: idempotent, adds what is missing.
_kbootstrap() {
    _kmanage bootstrap --bootstrap-username "$1" --bootstrap-password "$2" \
        --bootstrap-project-name "$3" --bootstrap-role-name "$4" "${@:5}"
}

keystone_setup() {
    local dir=$1 port=$2 bport=$3 me
    KDIR=$dir/keystone
    mkdir -p "$KDIR"
    me=$(id -un)
    cat >"$KDIR/keystone.conf" <<CONF
[DEFAULT]
log_file = $KDIR/keystone.log
[database]
connection = sqlite:///$KDIR/keystone.db
[fernet_tokens]
key_repository = $KDIR/fernet-keys
[credential]
key_repository = $KDIR/credential-keys
[token]
provider = fernet
expiration = 3600
CONF
    _kmanage db_sync
    _kmanage fernet_setup --keystone-user "$me" --keystone-group "$(id -gn)"
    _kmanage credential_setup --keystone-user "$me" --keystone-group "$(id -gn)"
    _kbootstrap admin adminpw admin admin --bootstrap-region-id RegionOne \
        --bootstrap-public-url "http://127.0.0.1:$port/v3" \
        --bootstrap-internal-url "http://127.0.0.1:$port/v3"
    _kbootstrap barbican barbicanpw service admin
    # Two tenants: barbican's default policy lets role admin (or creator) make secrets.
    _kbootstrap alice alicepw proj-a admin
    _kbootstrap bob bobpw proj-b admin
    # Barbican in the catalog as a cloud has it (REST registration fails on sqlite).
    $PY - "$KDIR/keystone.db" "http://127.0.0.1:$bport" <<'PYEOF'
import json, sqlite3, sys, uuid
db = sqlite3.connect(sys.argv[1])
sid = uuid.uuid4().hex
db.execute("INSERT INTO service (id, type, enabled, extra) VALUES (?, 'key-manager', 1, ?)",
           (sid, json.dumps({"name": "barbican"})))
for iface in ("public", "internal", "admin"):
    db.execute("INSERT INTO endpoint (id, legacy_endpoint_id, interface, service_id, url, extra,"
               " enabled, region_id) VALUES (?, NULL, ?, ?, ?, '{}', 1, 'RegionOne')",
               (uuid.uuid4().hex, iface, sid, sys.argv[2]))
db.commit()
PYEOF
}

# server_launch KIND DIR PORT: a plain command with every fd redirected (a
# subshell wrapper would keep the caller's pipes open); server_wait waits for it.
server_launch() {
    local kind=$1 dir=$2 port=$3 state=$2/$1
    setsid "$PY" "$BARBICAN_LIB_DIR/serve.py" "$kind" "$state" "$port" \
        </dev/null >"$state/server.log" 2>&1 &
    echo $! >"$state/pid"
}

server_start() {
    server_launch "$@"
    server_wait "$@"
}

server_wait() {
    local kind=$1 dir=$2 port=$3 limit=${4:-120} state=$2/$1 i
    for ((i = 0; i < limit * 4; i++)); do
        # waitress listens only once the application is loaded
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        kill -0 "$(cat "$state/pid")" 2>/dev/null || break
        sleep 0.25
    done
    echo "$kind did not start; its log:" >&2
    tail -20 "$state/server.log" >&2
    return 1
}

server_stop() {
    local pidfile=$1/$2/pid pid
    [[ -f $pidfile ]] || return 0
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
    done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$pidfile"
}

kill_servers() {
    server_stop "$1" barbican
    server_stop "$1" keystone
}
