#!/bin/sh
# Install the Debian packages tunrelay needs to build and test, only those missing.
# Usage: scripts/setup.sh [build|demo|test|bench|all]   (default: all)
# build: also shellcheck, for make lint;
# demo: what scripts/demo needs (namespaces, ping, python3, nftables for its
# comparison); test: also the real tunnels of tests/e2e/wireguard.sh and
# openvpn.sh (wireguard-go, wireguard-tools, openvpn, openssl); bench: what
# bench/relay-bench needs (iperf3, socat, haproxy, ...).
set -eu

want=${1:-all}

build_pkgs="gcc make autoconf automake libtool pkg-config libevent-dev uthash-dev
libiniparser-dev libcmocka-dev libmnl-dev libnftnl-dev liburing-dev shellcheck"
demo_pkgs="iproute2 ethtool iputils-ping procps python3 nftables"
bench_pkgs="iproute2 ethtool iperf3 socat haproxy procps python3 nftables"
test_pkgs="iproute2 ethtool iputils-ping socat iperf3 procps python3 nftables iptables curl clang libclang-rt-14-dev
wireguard-go wireguard-tools openvpn openssl"

case "$want" in
  build) pkgs=$build_pkgs ;;
  demo) pkgs="$build_pkgs $demo_pkgs" ;;
  test) pkgs="$build_pkgs $test_pkgs" ;;
  bench) pkgs="$build_pkgs $bench_pkgs" ;;
  all) pkgs="$build_pkgs $test_pkgs $bench_pkgs" ;;
  *) echo "setup.sh: unknown target '$want' (allowed: build, demo, test, bench, all)" >&2; exit 2 ;;
esac

missing=""
for p in $pkgs; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done

if [ -z "$missing" ]; then
  echo "setup: all packages present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "setup: missing packages:$missing" >&2
  echo "setup: run as root (or: sudo apt-get install$missing)" >&2
  exit 1
fi

echo "setup: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "setup: done"
