# Sourced by the benchmark scripts (not run): what they share.
#   bench_queries CACHE SHARED DOCS N  -> prints the path of N generated saved queries (seed 1),
#       made once per cache by ../shared/bench/gen_queries.py over DOCS, written to a part file
#       and renamed, so an interrupted run never leaves a truncated file that later runs trust;
#   bench_binary ROOT LOOKOUT          -> builds target/release/lookout if LOOKOUT_BIN is unset
#       and it is missing (or BUILD=1);
#   free_port                          -> prints a free TCP port on 127.0.0.1.

bench_queries() {
  local cache=$1 shared=$2 docs=$3 n=$4
  local q="$cache/queries-$n-seed1.tsv"
  mkdir -p "$cache"
  if [ ! -s "$q" ]; then
    python3 "$shared/bench/gen_queries.py" "$docs" "$n" --seed 1 > "$q.part.$$" && mv "$q.part.$$" "$q"
  fi
  echo "$q"
}

bench_binary() {
  local root=$1 lookout=$2
  if [ -z "${LOOKOUT_BIN:-}" ] && { [ ! -x "$lookout" ] || [ "${BUILD:-0}" = 1 ]; }; then
    cargo build --release --quiet --manifest-path "$root/Cargo.toml"
  fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
