#!/usr/bin/env bash
# Installs Flotilla from this checkout under PREFIX (default /opt/flotilla): a self-contained
# production tree (the launcher and every component with their runtime dependencies, built here),
# a Node-based `flotilla` launcher in PREFIX/bin linked from /usr/local/bin, and systemd units for the
# server and the agent with their environment files in /etc/flotilla.
#
# Usage: deploy/install.sh [--prefix DIR] [--destdir DIR] [--no-systemd] [--no-build]
#   --prefix DIR    where Flotilla lives on the target (default /opt/flotilla)
#   --destdir DIR   stage everything under DIR instead of / (packaging, tests); implies --no-systemd
#   --no-systemd    do not run systemctl daemon-reload
#   --no-build      use the checkout's compiled output as it is (it must be built)
# Units are installed but not enabled: `systemctl enable --now flotilla-server` (or flotilla-agent).
set -euo pipefail

prefix=/opt/flotilla
destdir=
systemd=1
build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix=$2; shift 2 ;;
    --prefix=*) prefix=${1#*=}; shift ;;
    --destdir) destdir=$2; systemd=0; shift 2 ;;
    --destdir=*) destdir=${1#*=}; systemd=0; shift ;;
    --no-systemd) systemd=0; shift ;;
    --no-build) build=0; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
case "$prefix" in /*) ;; *) echo "install.sh: --prefix must be absolute" >&2; exit 2 ;; esac

repo=$(cd "$(dirname "$0")/.." && pwd)
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  echo "install.sh: Node.js >= 20 is required (found $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

pnpm() { npx -y pnpm@10 "$@"; }
cd "$repo"
if [ ! -d node_modules ]; then pnpm install --frozen-lockfile; fi
if [ "$build" = 1 ]; then pnpm run build; fi

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
# A production tree of the launcher and its workspace dependencies (compiled), without dev tools.
pnpm --filter @flotilla/flotilla deploy --prod --legacy "$stage/lib" >/dev/null
rm -rf "$stage/lib/src" "$stage/lib/tsconfig.json" "$stage/lib/tsconfig.tsbuildinfo"

target="$destdir$prefix"
rm -rf "$target.new"
mkdir -p "$target.new/bin"
cp -a "$stage/lib" "$target.new/lib"
cat > "$target.new/bin/flotilla" <<LAUNCHER
#!/bin/sh
# Flotilla's launcher: runs the installed tree with the machine's Node.js (>= 20).
exec node "$prefix/lib/bin/flotilla.js" "\$@"
LAUNCHER
chmod 0755 "$target.new/bin/flotilla"
# Swap the new tree in (an existing install is replaced as a whole).
if [ -d "$target" ]; then rm -rf "$target.old"; mv "$target" "$target.old"; fi
mv "$target.new" "$target"
rm -rf "$target.old"

mkdir -p "$destdir/usr/local/bin"
ln -sfn "$prefix/bin/flotilla" "$destdir/usr/local/bin/flotilla"

mkdir -p "$destdir/etc/systemd/system" "$destdir/etc/flotilla"
for unit in flotilla-server.service flotilla-agent.service; do
  sed "s#@PREFIX@#$prefix#g" "$repo/deploy/systemd/$unit" > "$destdir/etc/systemd/system/$unit"
done
for env in server.env agent.env; do
  # Never overwrite an operator's settings.
  [ -e "$destdir/etc/flotilla/$env" ] || cp "$repo/deploy/systemd/$env" "$destdir/etc/flotilla/$env"
done

if [ "$systemd" = 1 ] && command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
fi
echo "Flotilla installed in $target"
echo "  launcher:  $prefix/bin/flotilla (linked from /usr/local/bin/flotilla)"
echo "  units:     /etc/systemd/system/flotilla-server.service, flotilla-agent.service (settings in /etc/flotilla/)"
echo "  start:     systemctl enable --now flotilla-server"
