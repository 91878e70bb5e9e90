#!/usr/bin/env bash
# The adversarial test: the release daemon, running as an unprivileged user with a 1,024
# file-descriptor limit (systemd's default soft limit, here as the hard limit too), is attacked
# with every class of input that once broke lookout (issue 9): queries that parse but crashed,
# quadratic shapes, unreadable and half-written files, bad JSON Lines lines, DNS rebinding,
# connection floods, malformed HTTP, hostile query names, a rotated alert log and an unmounted
# watch folder. Throughout, /healthz is polled; at the end every article must be indexed and
# every alert present exactly once. Prints one line per attack and a summary; exits 1 on any
# failure.
#
# usage: scripts/attack-test.sh   (env: ATTACK_USER=lookout-attack, KEEP=1 keeps the work folder)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --quiet --manifest-path "$root/Cargo.toml"
user=${ATTACK_USER:-lookout-attack}
if [ "$(id -u)" = 0 ] && ! id "$user" >/dev/null 2>&1; then
  useradd --system --no-create-home --shell /usr/sbin/nologin "$user"
fi
exec python3 "$root/scripts/attack_test.py" "$root/target/release/lookout" "$user"
