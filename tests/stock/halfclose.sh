# Shared by socat.sh and nc.sh: halfclose.py as the far end of a conversation with a half-close.
# Sourced after lib.sh; the functions are exported for the run_both_sh snippets.
# shellcheck shell=bash

# peer_listen ORDER: a halfclose.py server in the background; sets BACK (its port), PEER (pid).
peer_listen() {
  python3 "$HERE/halfclose.py" listen "$W/port" "$1" >"$W/peer.out" &
  PEER=$!
  # shellcheck disable=SC2034  # read by the snippets that call peer_listen
  BACK=$(wait_file "$W/port")
}

# peer_connect PORT ORDER: a halfclose.py client; prints its transcript and exit status.
peer_connect() {
  local rc=0
  python3 "$HERE/halfclose.py" connect "$1" "$2" || rc=$?
  echo "client peer exit $rc"
}

# peer_done: waits for the peer_listen server; prints its transcript and exit status.
peer_done() {
  local rc=0
  wait "$PEER" || rc=$?
  cat "$W/peer.out"
  echo "server peer exit $rc"
}

# pattern ROLE: the bytes halfclose.py's ROLE sends, for socat or nc to send in its place.
pattern() { python3 "$HERE/halfclose.py" pattern "$1"; }

# check_bytes ROLE FILE: whether FILE holds exactly what ROLE sends.
check_bytes() {
  if pattern "$1" | cmp -s - "$2"; then
    echo "${2##*/}: $(wc -c <"$2") bytes, exactly what the $1 sent"
  else
    echo "${2##*/}: $(wc -c <"$2") bytes, NOT what the $1 sent"
  fi
}
export -f peer_listen peer_connect peer_done pattern check_bytes
