#!/bin/sh
# Makes a local stand-in for node:20-bookworm-slim where no image registry can be reached: Debian bookworm from
# debootstrap (Debian's own mirror) plus this machine's node binary and npm, imported as one layer. Builds only
# when the image is missing; the tag carries the Node version, so a new Node makes a new base.
# Usage: test/docker/base-image.sh [DOCKER]  → prints the image name on stdout.
set -eu

docker=${1:-/usr/bin/docker}
node_bin=$(readlink -f "$(command -v node)")
npm_dir=$(readlink -f "$(npm root -g)/npm")
image="email-workers-node-base:$(node --version | tr -d v)-bookworm"

if "$docker" image inspect "$image" >/dev/null 2>&1; then
  echo "$image"
  exit 0
fi

root=$(mktemp -d "${TMPDIR:-/tmp}/email-workers-base.XXXXXX")
trap 'rm -rf "$root"' EXIT
echo "building $image with debootstrap (about a minute, once)" >&2
debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian >&2
mkdir -p "$root/usr/local/bin" "$root/usr/local/lib/node_modules"
cp "$node_bin" "$root/usr/local/bin/node"
cp -a "$npm_dir" "$root/usr/local/lib/node_modules/npm"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
# What the official slim image leaves out too: package caches and documentation.
rm -rf "$root/var/cache/apt/archives/"*.deb "$root/var/lib/apt/lists/"* "$root/usr/share/doc" "$root/usr/share/man"
tar -C "$root" -c . | "$docker" import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["node"]' - "$image" >&2
echo "$image"
