#!/usr/bin/env bash
# Builds fuzz/corpus/pgoutput from the captured fixtures: the first frame of each message
# kind (inside and outside stream blocks) per capture, prefixed with the selector byte the
# fuzz target reads (protocol version - 1, plus 4 when inside a stream block).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
FIXTURES="$ROOT/tests/fixtures/pgoutput"
CORPUS="$ROOT/fuzz/corpus/pgoutput"

seed() {
    local file=$1 version=$2 in_stream=0 seen=" " hex tag key
    while read -r hex; do
        tag=${hex:0:2}
        key="$tag-$in_stream"
        if [[ $seen != *" $key "* ]]; then
            seen="$seen$key "
            printf '%02x%s' $((version - 1 + in_stream * 4)) "$hex" | xxd -r -p \
                >"$CORPUS/${file%.hex}-$key"
        fi
        case $tag in
            53) in_stream=1 ;;
            45) in_stream=0 ;;
        esac
    done <"$FIXTURES/$file"
}

rm -rf "$CORPUS"
mkdir -p "$CORPUS"
seed v1.hex 1
seed v1-binary.hex 1
seed v2.hex 2
seed v3.hex 3
# PostgreSQL 15 cannot produce protocol 4: a hand-built stream abort with abort_lsn/abort_ts.
printf '03410000038400000385000000000000030000000000000001c8' | xxd -r -p >"$CORPUS/v4-41-0"
echo "$(ls "$CORPUS" | wc -l) seeds in $CORPUS"
