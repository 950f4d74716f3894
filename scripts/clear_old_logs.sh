#!/bin/sh
# Delete rustnet session logs older than N days (default 7).
#   scripts/clear_old_logs.sh [DAYS] [LOG_DIR]     LOG_DIR defaults to ./logs; DAYS 0 removes them all
# Only files named like rustnet's logs (rustnet_YYYY-MM-DD_HH-MM-SS.log) are touched.
set -eu

days="${1:-7}"
dir="${2:-logs}"

case "$days" in
    ''|*[!0-9]*) echo "usage: $0 [DAYS] [LOG_DIR]  (DAYS: a whole number, default 7)" >&2; exit 2 ;;
esac
if [ ! -d "$dir" ]; then
    echo "no log directory $dir: nothing to do"
    exit 0
fi

# find's -mtime +K matches files at least K+1 whole days old, so "older than N days" is +(N-1).
if [ "$days" -eq 0 ]; then
    age=""
else
    age="-mtime +$((days - 1))"
fi
# shellcheck disable=SC2086 # $age is empty or two words on purpose
count=$(find "$dir" -maxdepth 1 -type f -name 'rustnet_*.log' $age -print -delete | wc -l)
echo "removed $((count)) log file(s) older than $days day(s) from $dir"
