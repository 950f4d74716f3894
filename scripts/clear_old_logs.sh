#!/bin/sh
# Delete rustnet session logs older than N days (default 7).
#   scripts/clear_old_logs.sh [DAYS] [LOG_DIR]     LOG_DIR defaults to ./logs; DAYS 0 removes them all
# Only regular files named like rustnet's logs (rustnet_YYYY-MM-DD_HH-MM-SS.log) directly in
# LOG_DIR are touched; find neither follows symlinks nor descends, and LOG_DIR may not be a link.
set -eu

days="${1:-7}"
dir="${2:-logs}"

case "$days" in
    ''|*[!0-9]*) echo "usage: $0 [DAYS] [LOG_DIR]  (DAYS: a whole number, default 7)" >&2; exit 2 ;;
esac
# "logs/" would make find follow a symlink named logs: drop trailing slashes, then refuse a link.
while [ "$dir" != "/" ] && [ "${dir%/}" != "$dir" ]; do dir="${dir%/}"; done
if [ -L "$dir" ]; then
    echo "$0: $dir is a symbolic link; refusing to delete files through it" >&2
    exit 1
fi
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
