#!/usr/bin/env bash
# kcat (librdkafka's command-line client) against fjord: metadata, produce
# with keys and headers, consume from the beginning / an offset / a
# timestamp, NULL keys and values, every compression codec, max.message.bytes,
# and data read back after a restart.
#
# Each test starts its own broker ($FJORD_BIN, else target/debug/fjord) on a
# free port with a fresh data directory. Prints `ok`/`FAILED` per test and
# ends with `N passed, N failed`; exits non-zero if any test failed.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
FJORD_BIN="${FJORD_BIN:-$ROOT/target/debug/fjord}"
KCAT_VERSION="$(kcat -V 2>/dev/null | sed -n 's/^Version \([^ ]*\) .*librdkafka \([^ ]*\) .*/kcat \1, librdkafka \2/p')"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/fjord-kcat.XXXXXX")"
BROKER_PID=""
BOOTSTRAP=""
PASSED=0
FAILED=0

cleanup() {
    stop_broker
    rm -rf "$WORK"
}
trap cleanup EXIT

# Starts a broker with a fresh data dir; sets BOOTSTRAP. Extra args pass through.
start_broker() {
    local dir="$WORK/broker.$RANDOM$RANDOM"
    mkdir -p "$dir/data"
    BROKER_DIR="$dir"
    launch_broker "$@"
}

# Starts a broker on $BROKER_DIR's data dir and waits for its `listening on` line; sets
# BOOTSTRAP. Extra args pass through.
launch_broker() {
    local dir="$BROKER_DIR"
    "$FJORD_BIN" --listen 127.0.0.1:0 --data-dir "$dir/data" "$@" >"$dir/stdout" 2>>"$dir/stderr" &
    BROKER_PID=$!
    local deadline=$((SECONDS + 30))
    while ! grep -q '^listening on ' "$dir/stdout" 2>/dev/null; do
        if ! kill -0 "$BROKER_PID" 2>/dev/null; then
            echo "fjord ($FJORD_BIN) exited before printing 'listening on'; stderr:"
            cat "$dir/stderr"
            BROKER_PID=""
            return 1
        fi
        if ((SECONDS >= deadline)); then
            echo "fjord ($FJORD_BIN) did not print 'listening on' within 30s; stderr:"
            cat "$dir/stderr"
            return 1
        fi
        sleep 0.05
    done
    BOOTSTRAP="$(sed -n 's/^listening on //p' "$dir/stdout" | head -1 | tr -d '[:space:]')"
}

# Stops the broker gracefully (SIGTERM; it must exit 0 within 30s) and starts it again on the
# same data dir, on a new port.
restart_broker() {
    kill -TERM "$BROKER_PID" || return 1
    local deadline=$((SECONDS + 30))
    while kill -0 "$BROKER_PID" 2>/dev/null; do
        if ((SECONDS >= deadline)); then
            echo "fjord did not exit within 30s of SIGTERM"
            return 1
        fi
        sleep 0.05
    done
    local code=0
    wait "$BROKER_PID" || code=$?
    BROKER_PID=""
    if ((code != 0)); then
        echo "graceful shutdown exited $code"
        return 1
    fi
    launch_broker
}

stop_broker() {
    if [[ -n "$BROKER_PID" ]]; then
        kill -KILL "$BROKER_PID" 2>/dev/null
        wait "$BROKER_PID" 2>/dev/null
        BROKER_PID=""
    fi
}

# expect_eq WHAT EXPECTED ACTUAL
expect_eq() {
    if [[ "$2" != "$3" ]]; then
        echo "$1: expected:"
        printf '%s\n' "$2" | head -20
        echo "got:"
        printf '%s\n' "$3" | head -20
        return 1
    fi
}

# Runs one test function with a fresh broker; prints its output on failure.
run_test() {
    local name="$1"
    local out="$WORK/out.txt"
    if ! start_broker >"$out" 2>&1; then
        echo "FAILED - $name ($KCAT_VERSION)"
        sed 's/^/    /' "$out"
        FAILED=$((FAILED + 1))
        return
    fi
    if "$name" >"$out" 2>&1; then
        echo "ok - $name"
        PASSED=$((PASSED + 1))
    else
        echo "FAILED - $name ($KCAT_VERSION)"
        sed 's/^/    /' "$out"
        echo "    ---- fjord stderr ----"
        sed 's/^/    /' "$BROKER_DIR/stderr"
        FAILED=$((FAILED + 1))
    fi
    stop_broker
}

k() { timeout 30 kcat -b "$BOOTSTRAP" -X socket.timeout.ms=10000 "$@"; }

# ---------------------------------------------------------------- tests

metadata_lists_broker_and_topic() {
    printf 'a\nb\n' | k -P -t meta -p 0 || return 1
    local json
    json="$(k -L -J -t meta)" || return 1
    BOOTSTRAP="$BOOTSTRAP" python3 - "$json" <<'EOF'
import json, os, sys
md = json.loads(sys.argv[1])
host, port = os.environ["BOOTSTRAP"].rsplit(":", 1)
brokers = [(b["id"], b["name"]) for b in md["brokers"]]
assert brokers == [(1, f"{host}:{port}")], f"brokers {brokers}"
[topic] = md["topics"]
assert topic["topic"] == "meta" and "error" not in topic, topic
assert [(p["partition"], p["leader"]) for p in topic["partitions"]] == [(0, 1)], topic
EOF
}

produce_keys_consume_from_beginning() {
    printf 'k1:v1\nk2:v2\nk1:v3\n' | k -P -t keyed -K: || return 1
    expect_eq "key=value from the beginning" $'k1=v1\nk2=v2\nk1=v3' \
        "$(k -C -t keyed -o beginning -e -q -f '%k=%s\n')"
}

consume_from_offset() {
    seq 0 9 | k -P -t offs -p 0 || return 1
    expect_eq "from offset 6" $'6:6\n7:7\n8:8\n9:9' "$(k -C -t offs -p 0 -o 6 -e -q -f '%o:%s\n')"
    expect_eq "last two (-o -2)" $'8\n9' "$(k -C -t offs -p 0 -o -2 -e -q -f '%s\n')"
}

consume_from_timestamp() {
    printf 'early1\nearly2\n' | k -P -t times -p 0 || return 1
    local mid
    mid="$(date +%s%3N)"
    # Wait for the clock to pass `mid`, so later records carry CreateTime > mid.
    while (($(date +%s%3N) <= mid)); do :; done
    printf 'late1\nlate2\n' | k -P -t times -p 0 || return 1
    expect_eq "records at or after $mid" $'late1\nlate2' \
        "$(k -C -t times -p 0 -o "s@$((mid + 1))" -e -q -f '%s\n')"
}

null_key_and_value_with_Z() {
    # -Z: an empty key or value is sent as NULL; %K/%S print -1 for NULL.
    printf ':nokey\ntomb:\n' | k -P -t nulls -p 0 -K: -Z || return 1
    expect_eq "key length | value length" $'-1|5\n4|-1' \
        "$(k -C -t nulls -p 0 -o beginning -e -q -Z -f '%K|%S\n')"
}

headers_round_trip() {
    printf 'v\n' | k -P -t hdrs -p 0 -H trace=abc -H empty= || return 1
    expect_eq "headers" 'trace=abc,empty=' "$(k -C -t hdrs -p 0 -o beginning -e -q -f '%h\n')"
}

compression_round_trip() {
    local codec="$1" topic="codec-$1"
    local values
    values="$(for i in $(seq 1 300); do printf 'record %d %s\n' "$i" "$(printf 'fjord%.0s' $(seq 1 $((i % 20 + 1))))"; done)"
    printf '%s\n' "$values" | k -P -t "$topic" -p 0 -X compression.codec="$codec" -X linger.ms=50 || return 1
    expect_eq "$codec round trip" "$values" "$(k -C -t "$topic" -p 0 -o beginning -e -q -f '%s\n')"
}
compression_none() { compression_round_trip none; }
compression_gzip() { compression_round_trip gzip; }
compression_snappy() { compression_round_trip snappy; }
compression_lz4() { compression_round_trip lz4; }
compression_zstd() { compression_round_trip zstd; }

max_message_bytes_refused() {
    # A 1.2 MB record over the topic's max.message.bytes (Kafka's default, 1048588) but under
    # the client's own limit, so the broker is the one to refuse it.
    local big
    big="$(head -c 900000 /dev/urandom | base64 -w0)"
    local err
    err="$(printf '%s\n' "$big" | k -P -t big -p 0 -X message.max.bytes=2000000 \
        -X compression.codec=none 2>&1 >/dev/null)"
    if [[ "$err" != *"Message size too large"* && "$err" != *MSG_SIZE_TOO_LARGE* ]]; then
        echo "a 1.2 MB record: expected kcat to report MSG_SIZE_TOO_LARGE; it said:"
        printf '%s\n' "$err" | head -20
        return 1
    fi
    printf 'small\n' | k -P -t big -p 0 || return 1
    expect_eq "the refused record took no offset" '0:small' \
        "$(k -C -t big -p 0 -o beginning -e -q -f '%o:%s\n')"
}

restart_keeps_data() {
    seq 1 50 | k -P -t durable -p 0 -X linger.ms=20 || return 1
    printf 'k:last\n' | k -P -t durable -p 0 -K: || return 1
    local before
    before="$(k -C -t durable -p 0 -o beginning -e -q -f '%o %k %s\n')" || return 1
    restart_broker || return 1
    expect_eq "records after a restart" "$before" \
        "$(k -C -t durable -p 0 -o beginning -e -q -f '%o %k %s\n')" || return 1
    printf 'after\n' | k -P -t durable -p 0 || return 1
    expect_eq "the next offset after a restart" '51:after' "$(k -C -t durable -p 0 -o 51 -e -q -f '%o:%s\n')"
}

# ---------------------------------------------------------------- main

if ! command -v kcat >/dev/null 2>&1; then
    echo "kcat not found (apt-get install kcat)"
    echo "0 passed, 1 failed"
    exit 1
fi
echo "client: $KCAT_VERSION; broker: $FJORD_BIN"
for t in metadata_lists_broker_and_topic produce_keys_consume_from_beginning consume_from_offset \
    consume_from_timestamp null_key_and_value_with_Z headers_round_trip \
    compression_none compression_gzip compression_snappy compression_lz4 compression_zstd \
    max_message_bytes_refused restart_keeps_data; do
    run_test "$t"
done
echo "$PASSED passed, $FAILED failed"
((FAILED == 0))
