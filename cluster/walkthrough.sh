#!/usr/bin/env bash
# A walk through the local cluster (start it with cluster/up.sh): find the leader, register
# a dyndns host, update it through a FOLLOWER, and dig every node for it.
set -euo pipefail
source "$(dirname "$0")/env.sh"
ZONE=dyn.example.test

step() { printf '\n== %s\n' "$*"; }

step "cluster status"
"$BIN" cluster status --server "$(http 1)"
leader=$("$BIN" cluster status --json --server "$(http 1)" | jq -r '.leader')
follower=$(for i in 1 2 3; do [ "$i" != "$leader" ] && echo "$i" && break; done)
echo "leader: node $leader; writing through follower: node $follower"

host="walkthrough-$RANDOM.$ZONE"
step "register $host (EGI-style /nic/register on node $leader): the secret is shown once"
secret=$(curl -fsS -H "Authorization: Bearer $QUORUMDNS_ADMIN_TOKEN" \
  "$(http "$leader")/nic/register?fqdn=$host&comment=walkthrough" | jq -r '.host.update_secret')
echo "update secret: $secret"

addr="192.0.2.$((RANDOM % 250 + 1))"
step "dyndns2 update of $host to $addr through the FOLLOWER node $follower"
curl -fsS -u "$host:$secret" "$(http "$follower")/nic/update?hostname=$host&myip=$addr"
echo

step "dig every node (the follower already answers: it applied the change before acknowledging)"
for i in 1 2 3; do
  printf 'node %s: A=%-16s SOA serial=%s\n' "$i" \
    "$(dig +short -p "535$i" @127.0.0.1 "$host" A)" \
    "$(dig +short -p "535$i" @127.0.0.1 "$ZONE" SOA | awk '{print $3}')"
done

step "the same update again is nochg, and the serial stays"
curl -fsS -u "$host:$secret" "$(http "$follower")/nic/update?hostname=$host&myip=$addr"
echo

step "set a plain record walkthrough.$ZONE A $addr through node $follower (zone API)"
curl -fsS -X PUT -H "Authorization: Bearer $QUORUMDNS_ADMIN_TOKEN" -H 'content-type: application/json' \
  -d "{\"ttl\": 60, \"data\": [\"$addr\"]}" \
  "$(http "$follower")/api/v1/zones/$ZONE/records/walkthrough/A"
echo

step "linearizable read through node $follower (default) and a stale one"
curl -fsS -H "Authorization: Bearer $QUORUMDNS_ADMIN_TOKEN" "$(http "$follower")/api/v1/zones/$ZONE/records?name=walkthrough"; echo
curl -fsS -H "Authorization: Bearer $QUORUMDNS_ADMIN_TOKEN" "$(http "$follower")/api/v1/zones/$ZONE/records?name=walkthrough&stale=true"; echo
