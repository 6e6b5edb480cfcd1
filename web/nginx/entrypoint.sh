#!/bin/sh
# Starts nginx for the task SPA: validates the environment, writes /config.json and the nginx
# configuration under RUNTIME_DIR, then execs nginx in the foreground. Used by the image and by
# `npm run preview:nginx`; the tests run it too.
#
#   PORT                 listen port (8080)             LISTEN_HOST   bind address (all)
#   API_UPSTREAM         http://host[:port] of the API (http://127.0.0.1:3000)
#   API_TIMEOUT          seconds to wait for an API answer before a JSON 504 (60)
#   REQUEST_TIMEOUT_MS   the API's own request budget (its default, 15000); API_TIMEOUT must be above it
#   RESOLVER             DNS server(s) for API_UPSTREAM, `address[:port] ...` (the nameservers in RESOLV_CONF)
#   RESOLV_CONF          where the nameservers are read from (/etc/resolv.conf)
#   WORKER_CONNECTIONS   nginx's connection slots: clients, idle keep-alive ones included, and the
#                        connections behind each proxied request (8192); file descriptors: twice that
#   CLIENT_TIMEOUT       seconds nginx waits between reads of a client's headers or body (60); above REQUEST_TIMEOUT_MS
#   INTERNAL_TOKEN_FILE  file whose content nginx sends as X-Internal-Token (optional); see token-watch.sh
#   INTERNAL_TOKEN_WATCH_SECONDS  how often token-watch.sh looks for a new token (5)
#   API_URL, FEATURE_EDIT_TASK, FEATURE_DELETE_TASK, APP_VERSION
#                        written to /config.json, the same keys as web/server/runtime-config.ts
#   HTML_DIR             the built SPA (/usr/share/nginx/html)
#   RUNTIME_DIR          where nginx writes (/tmp/nginx); the only writable path it needs
#   ERROR_LOG, ACCESS_LOG  (/dev/stderr, /dev/stdout)
#   NGINX_BIN            the nginx binary (found on PATH, else /usr/sbin/nginx)
#
# A bad value stops it with exit code 78 (EX_CONFIG, as the API) and a message naming the variable.
set -eu

fail() {
  echo "entrypoint: $*" >&2
  exit 78
}

CONF_DIR=$(cd "$(dirname "$0")" && pwd)
PORT=${PORT:-8080}
LISTEN_HOST=${LISTEN_HOST:-}
API_UPSTREAM=${API_UPSTREAM:-http://127.0.0.1:3000}
API_TIMEOUT=${API_TIMEOUT:-60}
# The API's default (functions/api/config.ts; test/time-budgets.test.ts keeps them equal).
REQUEST_TIMEOUT_MS=${REQUEST_TIMEOUT_MS:-15000}
RESOLV_CONF=${RESOLV_CONF:-/etc/resolv.conf}
WORKER_CONNECTIONS=${WORKER_CONNECTIONS:-8192}
CLIENT_TIMEOUT=${CLIENT_TIMEOUT:-60}
HTML_DIR=${HTML_DIR:-/usr/share/nginx/html}
RUNTIME_DIR=${RUNTIME_DIR:-/tmp/nginx}
ERROR_LOG=${ERROR_LOG:-/dev/stderr}
ACCESS_LOG=${ACCESS_LOG:-/dev/stdout}

# The one form of every number setting (the API reads its own the same way: WHOLE_NUMBER in
# functions/api/env.ts): ASCII digits without a leading zero (080 is refused, not read as 80 or as
# octal), from MIN to MAX. The digits are counted before any arithmetic: sh's integers are 64-bit,
# and a longer number would overflow in $((...)) or make [ ] fail with exit 2 instead of this refusal.
#   whole_number NAME VALUE MIN MAX [UNIT]
whole_number() {
  wn_message="$1 must be a whole number${5:+ of $5} from $3 to $4, in digits without a leading zero, got '$2'"
  case "$2" in
    '' | *[!0-9]* | 0?*) fail "$wn_message" ;;
  esac
  [ "${#2}" -le "${#4}" ] && [ "$2" -ge "$3" ] && [ "$2" -le "$4" ] || fail "$wn_message"
}

# Every value that goes into nginx.conf is checked against a strict pattern first, so it can neither
# break the configuration nor add directives to it.
safe_path() {
  case "$2" in
    /*) ;;
    *) fail "$1 must be an absolute path, got '$2'" ;;
  esac
  case "$2" in
    *[!A-Za-z0-9._/-]*) fail "$1 may contain only letters, digits and . _ / -, got '$2'" ;;
  esac
}
safe_path HTML_DIR "$HTML_DIR"
safe_path RUNTIME_DIR "$RUNTIME_DIR"
safe_path ERROR_LOG "$ERROR_LOG"
safe_path ACCESS_LOG "$ACCESS_LOG"
safe_path CONF_DIR "$CONF_DIR"
[ -f "$HTML_DIR/index.html" ] || fail "HTML_DIR ($HTML_DIR) has no index.html; build the SPA first (npm run build:web)"

whole_number PORT "$PORT" 1 65535
case "$LISTEN_HOST" in
  *[!0-9A-Za-z.:\[\]-]*) fail "LISTEN_HOST must be an address, got '$LISTEN_HOST'" ;;
esac
LISTEN=${LISTEN_HOST:+$LISTEN_HOST:}$PORT

# API_UPSTREAM: http://host[:port] with an optional trailing slash, nothing else.
api=${API_UPSTREAM%/}
case "$api" in
  http://*) API_HOST=${api#http://} ;;
  *) fail "API_UPSTREAM must start with http://, got '$API_UPSTREAM'" ;;
esac
case "$API_HOST" in
  '' | *[!A-Za-z0-9.:-]* | :* | *:*:*) fail "API_UPSTREAM must be http://host[:port], got '$API_UPSTREAM'" ;;
esac

whole_number API_TIMEOUT "$API_TIMEOUT" 1 999999 seconds
whole_number REQUEST_TIMEOUT_MS "$REQUEST_TIMEOUT_MS" 1 999999999 milliseconds
# The order platform/values.yaml enforces: statement < the API's request budget < nginx < Knative.
# With nginx's timeout at or below the API's budget, nginx answers 504 while the API still runs the
# request, and a write without an Idempotency-Key commits behind that 504.
[ $((API_TIMEOUT * 1000)) -gt "$REQUEST_TIMEOUT_MS" ] ||
  fail "API_TIMEOUT ($API_TIMEOUT s) must be above the API's REQUEST_TIMEOUT_MS ($REQUEST_TIMEOUT_MS ms): nginx would answer 504 while the API still runs the request"
# nginx's own limit on the proxied hop: the inner server's answer (a JSON 504 after API_TIMEOUT,
# after up to resolver_timeout + proxy_connect_timeout first) always arrives before it.
OUTER_TIMEOUT=$((API_TIMEOUT + 15))
whole_number CLIENT_TIMEOUT "$CLIENT_TIMEOUT" 1 999999 seconds
# The same order for a client's body (timeouts.nginxClientSeconds in platform/values.yaml): a write
# without an Idempotency-Key streams its body to the API, which answers a stalled one with JSON 408
# within REQUEST_TIMEOUT_MS; at or below it, nginx's client_body_timeout closes the connection
# first, without any answer.
[ $((CLIENT_TIMEOUT * 1000)) -gt "$REQUEST_TIMEOUT_MS" ] ||
  fail "CLIENT_TIMEOUT ($CLIENT_TIMEOUT s) must be above the API's REQUEST_TIMEOUT_MS ($REQUEST_TIMEOUT_MS ms): nginx would close a connection whose body stalls before the API answers 408"
# A keyed write's body streams through the front server to the buffering hop (nginx.conf.template),
# which alone can answer a stalled body: the front waits longer, and for the hop's tries (30 s) longer still.
KEYED_CLIENT_TIMEOUT=$((CLIENT_TIMEOUT + 5))
KEYED_TIMEOUT=$((OUTER_TIMEOUT + 30))

whole_number WORKER_CONNECTIONS "$WORKER_CONNECTIONS" 512 9999999
# One descriptor per connection, plus files nginx opens (static files, temp files, logs): twice the
# connections. nginx raises its soft limit itself (worker_rlimit_nofile), but never above the hard one.
WORKER_NOFILE=$((WORKER_CONNECTIONS * 2))
hard_nofile=$(ulimit -Hn)
[ "$hard_nofile" = unlimited ] || [ "$hard_nofile" -ge "$WORKER_NOFILE" ] ||
  fail "WORKER_CONNECTIONS ($WORKER_CONNECTIONS) needs $WORKER_NOFILE file descriptors, above the hard limit ($hard_nofile): raise the limit or lower WORKER_CONNECTIONS"

# The resolver for API_UPSTREAM: nginx resolves the name per request (cached for the answer's TTL,
# at most 5 s), so it starts while the name does not resolve yet and follows a new address. It does
# not read /etc/resolv.conf itself; in the cluster that file names the cluster DNS.
# API_UPSTREAM is taken as a full name: nginx's resolver does not apply resolv.conf's search list.
if [ -z "${RESOLVER:-}" ] && [ -r "$RESOLV_CONF" ]; then
  RESOLVER=$(awk '$1 == "nameserver" && $2 != "" { if ($2 ~ /:/) printf "%s[%s]", sep, $2; else printf "%s%s", sep, $2; sep = " " }' "$RESOLV_CONF")
fi
RESOLVER=${RESOLVER:-}
case "$RESOLVER" in
  *[!0-9A-Za-z.:\[\]\ -]*) fail "RESOLVER must be addresses (address[:port], space-separated), got '$RESOLVER'" ;;
esac
case "${API_HOST%:*}" in
  *[!0-9.]*)
    [ -n "$RESOLVER" ] || fail "API_UPSTREAM names a host ($API_HOST) but no resolver was found: set RESOLVER or list a nameserver in $RESOLV_CONF"
    ;;
esac
RESOLVER_LINE=
[ -z "$RESOLVER" ] || RESOLVER_LINE="resolver $RESOLVER valid=5s; resolver_timeout 5s;"

# The same spellings and message as the API (functions/api/env.ts FLAG_SPELLINGS; a test checks both).
flag() {
  value=$(printf '%s' "$2" | tr 'A-Z' 'a-z' | tr -d ' \t')
  case "$value" in
    '' | true | 1 | yes | on) echo true ;;
    false | 0 | no | off) echo false ;;
    *) fail "$1 must be one of true, false, 1, 0, yes, no, on, off (any case)" ;;
  esac
}
FEATURE_EDIT=$(flag FEATURE_EDIT_TASK "${FEATURE_EDIT_TASK:-}")
FEATURE_DELETE=$(flag FEATURE_DELETE_TASK "${FEATURE_DELETE_TASK:-}")

mkdir -p "$RUNTIME_DIR"
umask 077

# X-Internal-Token from INTERNAL_TOKEN_FILE (and `previous` beside it), checked and written by
# token-watch.sh, which also follows the token when the Secret changes.
RUNTIME_DIR=$RUNTIME_DIR sh "$CONF_DIR/token-watch.sh" render || exit 78
# Its interval is checked here, with the other numbers, so a bad one stops the start instead of the watcher.
[ -z "${INTERNAL_TOKEN_FILE:-}" ] || whole_number INTERNAL_TOKEN_WATCH_SECONDS "${INTERNAL_TOKEN_WATCH_SECONDS:-5}" 1 86400 seconds

# config.json: awk escapes each string for JSON (backslash, quote, control characters), so no value
# can end its string early or add a key.
umask 022
API_URL=${API_URL:-/api} APP_VERSION=${APP_VERSION:-dev} awk \
  -v edit_task="$FEATURE_EDIT" -v delete_task="$FEATURE_DELETE" '
  function str(s,   out, i, c) {
    out = ""
    for (i = 1; i <= length(s); i++) {
      c = substr(s, i, 1)
      if (c == "\\") out = out "\\\\"
      else if (c == "\"") out = out "\\\""
      else if (c in control) out = out control[c]
      else out = out c
    }
    return "\"" out "\""
  }
  BEGIN {
    for (i = 1; i < 32; i++) control[sprintf("%c", i)] = sprintf("\\u%04x", i)
    printf "{\"apiUrl\":%s,\"featureEditTask\":%s,\"featureDeleteTask\":%s,\"appVersion\":%s,\"apiSleeps\":true,\"embeddedDatabase\":false}\n",
      str(ENVIRON["API_URL"]), edit_task, delete_task, str(ENVIRON["APP_VERSION"])
  }' >"$RUNTIME_DIR/config.json.tmp"
mv "$RUNTIME_DIR/config.json.tmp" "$RUNTIME_DIR/config.json"

# As root (local previews, CI) the workers run as "nobody"; nginx hands them the temp folders it
# creates, but they must be able to enter RUNTIME_DIR. The image runs as an unprivileged user.
USER_LINE=
if [ "$(id -u)" = 0 ]; then
  USER_LINE="user nobody $(id -gn nobody);"
  chmod go+x "$RUNTIME_DIR"
fi

# The sockets of the hops to the API (nginx.conf.template): one left by an earlier run would block the bind.
rm -f "$RUNTIME_DIR/api.sock" "$RUNTIME_DIR/keyed.sock"

sed -e "s|@@USER_LINE@@|$USER_LINE|" \
  -e "s|@@RUNTIME_DIR@@|$RUNTIME_DIR|g" \
  -e "s|@@CONF_DIR@@|$CONF_DIR|g" \
  -e "s|@@HTML_DIR@@|$HTML_DIR|g" \
  -e "s|@@ERROR_LOG@@|$ERROR_LOG|g" \
  -e "s|@@ACCESS_LOG@@|$ACCESS_LOG|g" \
  -e "s|@@LISTEN@@|$LISTEN|g" \
  -e "s|@@API_HOST@@|$API_HOST|g" \
  -e "s|@@API_TIMEOUT@@|$API_TIMEOUT|g" \
  -e "s|@@OUTER_TIMEOUT@@|$OUTER_TIMEOUT|g" \
  -e "s|@@CLIENT_TIMEOUT@@|$CLIENT_TIMEOUT|g" \
  -e "s|@@KEYED_CLIENT_TIMEOUT@@|$KEYED_CLIENT_TIMEOUT|g" \
  -e "s|@@KEYED_TIMEOUT@@|$KEYED_TIMEOUT|g" \
  -e "s|@@RESOLVER_LINE@@|$RESOLVER_LINE|g" \
  -e "s|@@WORKER_CONNECTIONS@@|$WORKER_CONNECTIONS|g" \
  -e "s|@@WORKER_NOFILE@@|$WORKER_NOFILE|g" \
  "$CONF_DIR/nginx.conf.template" >"$RUNTIME_DIR/nginx.conf"

# Not "NGINX": nginx reads that variable as a list of inherited sockets.
NGINX_BIN=${NGINX_BIN:-$(command -v nginx || echo /usr/sbin/nginx)}
# Once nginx runs (this PID after exec), reload it gracefully whenever the mounted token changes.
[ -z "${INTERNAL_TOKEN_FILE:-}" ] || RUNTIME_DIR=$RUNTIME_DIR sh "$CONF_DIR/token-watch.sh" watch $$ &
exec "$NGINX_BIN" -p "$RUNTIME_DIR/" -c "$RUNTIME_DIR/nginx.conf" -e "$ERROR_LOG"
