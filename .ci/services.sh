#!/usr/bin/env bash
# The services the tests talk to on loopback: PostgreSQL (5432) and Redis (6379). Each one that does not
# answer is started with this machine's own command for it; nothing is started if it already runs.
set -u

up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_up() {
  for _ in $(seq 1 50); do up "$1" && return 0; sleep 0.2; done
  echo "services: nothing answers on port $1 ($2)" >&2
  return 1
}

status=0
if ! up 5432; then
  echo "services: starting PostgreSQL"
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
  fi
  wait_up 5432 PostgreSQL || status=1
fi
if ! up 6379; then
  echo "services: starting Redis"
  if command -v redis-server >/dev/null; then
    mkdir -p /tmp/hub-redis
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no --dir /tmp/hub-redis \
      --logfile /tmp/hub-redis/redis.log || true
  fi
  wait_up 6379 Redis || status=1
fi
exit $status
