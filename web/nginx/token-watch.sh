#!/bin/sh
# The X-Internal-Token header nginx sends, kept in step with the mounted Secret without a restart.
#
#   token-watch.sh render             write $RUNTIME_DIR/internal-token.conf; exit 78 on a bad token
#   token-watch.sh watch <nginx pid>  every INTERNAL_TOKEN_WATCH_SECONDS, re-read the files; when they
#                                     changed, render again and send nginx SIGHUP (a graceful reload)
#
#   INTERNAL_TOKEN_FILE            the token (Secret key `token`, AWSCURRENT); `previous` beside it
#                                  (AWSPREVIOUS) is sent too when present. No file: the header is
#                                  removed, so a token a browser sent never reaches the API.
#   INTERNAL_TOKEN_WATCH_SECONDS   how often to look (5): the bound on nginx's pick-up time
#   RUNTIME_DIR                    where nginx's configuration lives
#
# Why both tokens: ESO updates the frontend's and the backend's copies independently, so for a
# while web and API pods are one rotation apart; `current, previous` always shares a token with
# the API's `token` + `previous` then (secrets/README.md). The reload starts new workers with the
# new header; old workers finish the requests they hold, so nothing is dropped.
# The kubelet swaps a Secret volume by renaming `..data`: both files are read from one version.
set -u

log() {
  echo "token-watch: $*" >&2
}

# Prints the header value: "<token>" or "<token>, <previous>". Fails with a message on a bad file.
header_value() {
  dir=$(dirname "$INTERNAL_TOKEN_FILE")
  attempt=0
  while :; do
    before=$(readlink "$dir/..data" 2>/dev/null || true)
    [ -r "$INTERNAL_TOKEN_FILE" ] || { log "INTERNAL_TOKEN_FILE ($INTERNAL_TOKEN_FILE) cannot be read"; return 1; }
    current=$(tr -d ' \t\r\n' <"$INTERNAL_TOKEN_FILE") || return 1
    previous=
    if [ -r "$dir/previous" ]; then previous=$(tr -d ' \t\r\n' <"$dir/previous") || return 1; fi
    after=$(readlink "$dir/..data" 2>/dev/null || true)
    [ "$before" = "$after" ] && break
    attempt=$((attempt + 1))
    [ "$attempt" -lt 3 ] || break
  done
  case "$current" in
    '') log "INTERNAL_TOKEN_FILE ($INTERNAL_TOKEN_FILE) is empty"; return 1 ;;
    *[!A-Za-z0-9._~+/=-]*) log "INTERNAL_TOKEN_FILE must hold a token of letters, digits and . _ ~ + / = -"; return 1 ;;
  esac
  case "$previous" in
    *[!A-Za-z0-9._~+/=-]*) log "the previous token beside INTERNAL_TOKEN_FILE must hold letters, digits and . _ ~ + / = -"; return 1 ;;
  esac
  if [ -n "$previous" ] && [ "$previous" != "$current" ]; then
    printf '%s, %s' "$current" "$previous"
  else
    printf '%s' "$current"
  fi
}

conf_line() {
  printf 'proxy_set_header X-Internal-Token "%s";' "$1"
}

# Writes the include atomically (readable by the master only); an empty value removes the header.
write_conf() {
  (
    umask 077
    conf_line "$1" >"$RUNTIME_DIR/internal-token.conf.tmp" && echo >>"$RUNTIME_DIR/internal-token.conf.tmp"
  ) && mv "$RUNTIME_DIR/internal-token.conf.tmp" "$RUNTIME_DIR/internal-token.conf"
}

render() {
  value=
  if [ -n "${INTERNAL_TOKEN_FILE:-}" ]; then
    value=$(header_value) || exit 78
  fi
  write_conf "$value" || exit 78
}

watch() {
  pid=$1
  interval=${INTERNAL_TOKEN_WATCH_SECONDS:-5}
  case "$interval" in
    '' | *[!0-9]* | 0*) log "INTERNAL_TOKEN_WATCH_SECONDS must be a whole number of seconds above 0, got '$interval'"; exit 78 ;;
  esac
  # What nginx loaded: the include the entrypoint rendered just before it started nginx.
  loaded=$(cat "$RUNTIME_DIR/internal-token.conf" 2>/dev/null)
  # Runs as long as nginx does; it is nginx's child once the entrypoint has exec'd.
  while kill -0 "$pid" 2>/dev/null; do
    sleep "$interval"
    value=$(header_value) || continue # a bad or half-written Secret: keep sending the last good header
    [ "$(conf_line "$value")" = "$loaded" ] && continue
    # SIGHUP only once nginx has written its pid file: before that its signal handlers may not be set.
    [ "$(cat "$RUNTIME_DIR/nginx.pid" 2>/dev/null)" = "$pid" ] || continue
    write_conf "$value" || continue
    if kill -HUP "$pid" 2>/dev/null; then
      loaded=$(conf_line "$value")
      log "internal token changed; nginx reloaded gracefully"
    fi
  done
}

case "${1:-}" in
  render) render ;;
  watch) watch "${2:?usage: token-watch.sh watch <nginx pid>}" ;;
  *)
    echo "usage: token-watch.sh render | watch <nginx pid>" >&2
    exit 64
    ;;
esac
