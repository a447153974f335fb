#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# tests/barbican/keystone.sh: the ephcrypt CLI against a real Keystone in front of a
# real Barbican on 127.0.0.1 (random ports, everything in a temp dir, both servers
# killed on exit even on failure). Barbican is found in Keystone's catalog.
#   password auth (clouds.yaml and OS_*), a given token, an application credential,
#   one token for several requests, a wrong
#   password, another project's secret (403), a missing secret (404), Barbican
#   stopped mid-run (retries, then a clear error; restarted in time: success).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
REPO=$PWD
. tests/barbican/lib.sh
EC=$REPO/build/ephcrypt
[[ -x $EC ]] || { echo "build/ephcrypt missing (make client)" >&2; exit 1; }
command -v keystone-manage >/dev/null || { echo "SKIP: no keystone-manage (python3-keystone)"; exit 77; }

D=$(mktemp -d /tmp/ephcrypt-keystone.XXXXXX)
cleanup() { kill_servers "$D"; rm -rf "$D"; }
trap cleanup EXIT
[[ -n ${KEEP:-} ]] && trap "kill_servers $D" EXIT
trap 'exit 130' INT TERM
n=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
fail() {
    echo "FAIL: $*" >&2
    for f in "$D"/out "$D"/err; do [[ -f $f ]] && sed "s|^|  ${f##*/}: |" "$f" >&2; done
    exit 1
}

KP=$(free_port) BP=$(free_port)
t0=$(date +%s)
barbican_setup "$D" "$BP" "$KP"
server_launch barbican "$D" "$BP" # loads while Keystone is set up: it asks Keystone nothing yet
keystone_setup "$D" "$KP" "$BP"
server_start keystone "$D" "$KP" 300 || fail "keystone did not start"
server_wait barbican "$D" "$BP" 300 || fail "barbican did not start"
echo "# keystone on $KP, barbican on $BP, ready in $(($(date +%s) - t0)) s"

# alice through clouds.yaml (the standard file, found by name); bob through OS_* variables.
cat >"$D/clouds.yaml" <<YAML
clouds:
  test-a:
    auth:
      auth_url: http://127.0.0.1:$KP/v3
      username: alice
      password: alicepw
      project_name: proj-a
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
    interface: public
YAML
export OS_CLIENT_CONFIG_FILE=$D/clouds.yaml
alice() { "$EC" --os-cloud test-a "$@" >"$D/out" 2>"$D/err"; }
bob() {
    env OS_AUTH_URL="http://127.0.0.1:$KP/v3" OS_USERNAME=bob OS_PASSWORD=bobpw \
        OS_PROJECT_NAME=proj-b OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default \
        "$EC" "$@" >"$D/out" 2>"$D/err"
}
# expect_rc RC WHAT CMD...: the command exits RC.
expect_rc() {
    local want=$1 what=$2 rc=0
    shift 2
    "$@" || rc=$?
    [[ $rc == "$want" ]] || fail "$what: exit $rc, want $want"
}
token_issues() { grep -c '^POST /v3/auth/tokens' "$D/keystone/access.log" || true; }

# Warm-up: Barbican's middleware gets its own service token on its first request.
expect_rc 0 "first key new" alice key new --name warm-up
ok "password auth from clouds.yaml; Barbican found in Keystone's catalog"

before=$(token_issues) lines=$(wc -l <"$D/barbican/access.log")
expect_rc 0 "key new" alice key new --name disk-a
REF=$(cat "$D/out")
[[ $REF == "http://127.0.0.1:$BP/v1/secrets/"* ]] || fail "key new printed '$REF'"
issued=$(($(token_issues) - before))
mapfile -t reqs < <(tail -n +"$((lines + 1))" "$D/barbican/access.log")
[[ ${#reqs[@]} -ge 2 ]] || fail "expected an order and a poll, Barbican saw: ${reqs[*]}"
tokens=$(printf '%s\n' "${reqs[@]}" | awk '{print $3}' | sort -u)
[[ $issued == 1 && $tokens != - && $(wc -l <<<"$tokens") == 1 ]] ||
    fail "token issues $issued, tokens used [$tokens] for: ${reqs[*]}"
ok "one token issued, reused for all ${#reqs[@]} Barbican requests of one run"

expect_rc 0 "key show" alice key show "$REF"
grep -q '^bit_length *512$' "$D/out" && grep -q '^mode *xts$' "$D/out" || fail "key show"
expect_rc 0 "key show --json" alice --json key show "${REF##*/}"
grep -q '"algorithm": "aes"' "$D/out" || fail "key show --json"
ok "key show by href and by bare uuid (metadata only)"

expect_rc 3 "wrong password" "$EC" --os-cloud test-a --os-password wrong key show "$REF" \
    >"$D/out" 2>"$D/err"
grep -q "Keystone refused the credentials: HTTP 401" "$D/err" || fail "wrong password message"
grep -q wrong "$D/err" && fail "the password appears in the error"
ok "wrong password: exit 3, '$(head -1 "$D/err")'"

expect_rc 3 "bob reads alice's secret" bob key show "$REF"
grep -q "secret $REF: HTTP 403" "$D/err" || fail "403 message"
expect_rc 3 "bob deletes alice's secret" bob key delete "$REF"
ok "another project's secret: exit 3, '$(head -1 "$D/err")'"

expect_rc 4 "missing secret" alice key show 0badbeef-0000-4000-8000-000000000000
grep -q "HTTP 404" "$D/err" || fail "404 message"
ok "a missing secret: exit 4, '$(head -1 "$D/err")'"

expect_rc 2 "bad ref" alice key show not-a-ref
grep -q "'not-a-ref' is not a secret reference" "$D/err" || fail "bad ref message"
ok "a malformed reference: exit 2 before any request"

# A given token (exchanged for a project-scoped one with a catalog), and an
# application credential (made through Keystone's API as alice).
$PY - "http://127.0.0.1:$KP/v3" "$D/cred" <<'PYEOF' || fail "could not get a token and an application credential"
import json, sys, time, urllib.request
url, out = sys.argv[1], sys.argv[2]
def post(path, body, token=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["X-Auth-Token"] = token
    req = urllib.request.Request(url + path, json.dumps(body).encode(), headers)
    with urllib.request.urlopen(req, timeout=60) as r:
        return r.headers.get("X-Subject-Token"), json.load(r)
dom = {"name": "Default"}
token, body = post("/auth/tokens", {"auth": {"identity": {"methods": ["password"], "password": {
    "user": {"name": "alice", "domain": dom, "password": "alicepw"}}},
    "scope": {"project": {"name": "proj-a", "domain": dom}}}})
uid = body["token"]["user"]["id"]
for attempt in range(4):  # Keystone on sqlite: a write may meet "database is locked"
    try:
        _, cred = post("/users/%s/application_credentials" % uid,
                       {"application_credential": {"name": "ephcrypt-test-%d" % attempt}}, token)
        break
    except urllib.error.HTTPError as e:
        if e.code < 500 or attempt == 3:
            raise
        time.sleep(1)
c = cred["application_credential"]
with open(out, "w") as f:
    f.write("%s\n%s\n%s\n" % (token, c["id"], c["secret"]))
PYEOF
{ read -r TOKEN; read -r CRED_ID; read -r CRED_SECRET; } <"$D/cred"
rm -f "$D/cred"
expect_rc 0 "token auth" env OS_AUTH_URL="http://127.0.0.1:$KP/v3" OS_TOKEN="$TOKEN" \
    OS_PROJECT_NAME=proj-a OS_PROJECT_DOMAIN_NAME=Default "$EC" key show "$REF" >"$D/out" 2>"$D/err"
grep -q '^status *ACTIVE$' "$D/out" || fail "token auth: key show"
ok "a given token, exchanged for a scoped token and its catalog"
expect_rc 0 "application credential" env OS_AUTH_URL="http://127.0.0.1:$KP/v3" \
    OS_AUTH_TYPE=v3applicationcredential OS_APPLICATION_CREDENTIAL_ID="$CRED_ID" \
    OS_APPLICATION_CREDENTIAL_SECRET="$CRED_SECRET" "$EC" key show "$REF" >"$D/out" 2>"$D/err"
grep -q '^status *ACTIVE$' "$D/out" || fail "application credential: key show"
expect_rc 3 "wrong application credential secret" env OS_AUTH_URL="http://127.0.0.1:$KP/v3" \
    OS_APPLICATION_CREDENTIAL_ID="$CRED_ID" OS_APPLICATION_CREDENTIAL_SECRET=wrong \
    "$EC" key show "$REF" >"$D/out" 2>"$D/err"
ok "an application credential (and a wrong secret: exit 3)"

# Barbican stops: connection errors are retried with backoff, then reported.
server_stop "$D" barbican
expect_rc 7 "barbican down" alice --retries 2 key show "$REF"
[[ $(grep -c 'retry [12] in' "$D/err") == 2 ]] || fail "expected two retries"
grep -q "after 3 attempts" "$D/err" || fail "no final error"
ok "Barbican stopped: 2 retries, then exit 7, '$(tail -1 "$D/err")'"

# Stopped mid-run and back in time: the same run succeeds on a later attempt.
"$EC" --os-cloud test-a --retries 15 key show "$REF" >"$D/out" 2>"$D/err" &
pid=$!
sleep 1
server_start barbican "$D" "$BP" 180 || fail "barbican did not restart"
wait "$pid" || fail "the retried run failed"
grep -q 'retry 1 in' "$D/err" && grep -q '^status *ACTIVE$' "$D/out" || fail "retry then success"
ok "Barbican back during the run: $(grep -c 'retry' "$D/err") retries, then the secret"

expect_rc 0 "key delete" alice key delete "$REF"
expect_rc 4 "deleted secret" alice key show "$REF"
ok "key delete, then 404"
echo "keystone mode: $n passed"
