#!/bin/sh
# install.sh -- install or uninstall Scalpel (what `make install` / `make uninstall` run)
#
# usage: tools/install.sh install   PREFIX DESTDIR CLI
#        tools/install.sh uninstall PREFIX DESTDIR
#
#   PREFIX   where the files belong once installed (/usr/local by default in the Makefile)
#   DESTDIR  a staging root prepended to every path written ("" for a real install); packagers
#            install into DESTDIR and ship what is there
#   CLI      the built `scalpel` tool to install as PREFIX/bin/scalpel
#
# What goes where (PREFIX-relative):
#   include/scalpel/scalpel.h, scalpel_format.h, scalpel_kernels.h, scalpel_train.h
#                                   the headers, side by side as in the source tree
#   include/scalpel/single/scalpel.h
#                                   the amalgamated one-file build (amalgamate.py)
#   share/scalpel/scalpel_cuda.cu   the CUDA backend, compiled with your nvcc line
#   bin/scalpel                     the command-line tool
#   share/pkgconfig/scalpel.pc      pkg-config: Cflags -I<include>/scalpel, Libs -lm
#   share/cmake/scalpel/            scalpelConfig.cmake, scalpelConfigVersion.cmake and
#                                   scalpel_target.cmake: find_package(scalpel) gives the
#                                   INTERFACE target scalpel::scalpel
#   share/scalpel/install-manifest.txt
#                                   every file and directory this install created
#
# Install never replaces a file it did not write: a file already at one of these paths stops
# it with an error (what was installed up to then is in the manifest, for make uninstall).
# Uninstall reads the manifest and removes exactly those files, then those directories where
# they are empty (a directory that existed before the install is never in the manifest, and
# one that holds anything else stays), then the manifest. Nothing else is touched.
set -eu

die() { echo "install.sh: $*" >&2; exit 1; }

[ $# -ge 3 ] || die "usage: $0 install|uninstall PREFIX DESTDIR [CLI]"
action=$1 prefix=$2 destdir=$3
case "$prefix" in /*) ;; *) die "PREFIX must be an absolute path, not '$prefix'" ;; esac
root="$destdir$prefix"
manifest_rel=share/scalpel/install-manifest.txt
manifest="$root/$manifest_rel"
src=$(cd "$(dirname "$0")/.." && pwd)

if [ "$action" = uninstall ]; then
  [ -f "$manifest" ] || die "no $manifest: nothing installed by this script under $root"
  list=$(cat "$manifest")
  # files first ("f PATH", the manifest itself last), then directories deepest first ("d PATH")
  printf '%s\n' "$list" | sed -n 's/^f //p' | while IFS= read -r p; do
    [ "$p" = "$prefix/$manifest_rel" ] && continue
    if [ -f "$destdir$p" ] || [ -L "$destdir$p" ]; then rm -f "$destdir$p" && echo "removed $destdir$p"; fi
  done
  rm -f "$manifest" && echo "removed $manifest"
  printf '%s\n' "$list" | sed -n 's/^d //p' | sort -r | while IFS= read -r d; do
    if [ -d "$destdir$d" ] && rmdir "$destdir$d" 2>/dev/null; then echo "removed $destdir$d/"; fi
  done
  exit 0
fi

[ "$action" = install ] || die "unknown action '$action' (install or uninstall)"
[ $# -eq 4 ] || die "install needs the built CLI as its fourth argument"
cli=$4
[ -x "$cli" ] || die "$cli is not a built program (run make install, which builds it)"
[ -f "$src/dist/scalpel.h" ] || die "dist/scalpel.h missing (make dist)"
if [ -f "$manifest" ]; then
  die "$manifest exists: Scalpel is already installed there (make uninstall first)"
fi

# Every directory created and file written is appended to the manifest as it happens, so that
# an install that fails half-way can still be undone with make uninstall.
record() { [ -z "${manifest_ready:-}" ] && pending="$pending$1
" || printf '%s\n' "$1" >>"$manifest" || die "cannot write $manifest"; }
pending=""
# mkdir -p that records each directory it creates
mkdirs() {
  d=$1 missing=""
  while [ "$d" != / ] && [ ! -d "$destdir$d" ]; do missing="$d $missing"; d=$(dirname "$d"); done
  for m in $missing; do
    mkdir "$destdir$m" || die "cannot create $destdir$m"
    record "d $m"
  done
}
put() {   # put SOURCE PREFIX-RELATIVE-DEST MODE
  dest="$prefix/$2"
  mkdirs "$(dirname "$dest")"
  # no manifest was there, so a file at dest is not from this install: it is the user's
  if [ -e "$destdir$dest" ] || [ -L "$destdir$dest" ]; then
    die "$destdir$dest already exists and is not from a Scalpel install: move it away or pick another PREFIX (make uninstall undoes what was installed so far)"
  fi
  cp "$1" "$destdir$dest.scalpel-new" && chmod "$3" "$destdir$dest.scalpel-new" &&
    mv -f "$destdir$dest.scalpel-new" "$destdir$dest" || die "cannot write $destdir$dest"
  record "f $dest"
  echo "installed $destdir$dest"
}
subst() {   # subst TEMPLATE OUT: @PREFIX@ and @VERSION@ filled in
  sed -e "s|@PREFIX@|$prefix|g" -e "s|@VERSION@|$version|g" "$1" >"$2"
}

version=$(sed -n 's/^#define SCALPEL_VERSION_STRING "\(.*\)"$/\1/p' "$src/scalpel_format.h")
[ -n "$version" ] || die "no SCALPEL_VERSION_STRING in scalpel_format.h"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
case "$prefix$destdir" in *' '* | *'	'*) die "PREFIX and DESTDIR must not contain spaces or tabs" ;; esac
if [ -n "$destdir" ]; then mkdir -p "$destdir" || die "cannot create DESTDIR $destdir"; fi
mkdirs "$prefix/share/scalpel"
printf '%s' "$pending" >"$manifest" || die "cannot write $manifest"
echo "f $prefix/$manifest_rel" >>"$manifest"
manifest_ready=1

for h in scalpel.h scalpel_format.h scalpel_kernels.h scalpel_train.h; do
  put "$src/$h" "include/scalpel/$h" 644
done
put "$src/dist/scalpel.h" include/scalpel/single/scalpel.h 644
put "$src/scalpel_cuda.cu" share/scalpel/scalpel_cuda.cu 644
put "$cli" bin/scalpel 755
subst "$src/cmake/scalpel.pc.in" "$tmp/scalpel.pc"
put "$tmp/scalpel.pc" share/pkgconfig/scalpel.pc 644
subst "$src/cmake/scalpelConfigVersion.cmake.in" "$tmp/scalpelConfigVersion.cmake"
put "$src/cmake/scalpelConfig.cmake" share/cmake/scalpel/scalpelConfig.cmake 644
put "$tmp/scalpelConfigVersion.cmake" share/cmake/scalpel/scalpelConfigVersion.cmake 644
put "$src/cmake/scalpel_target.cmake" share/cmake/scalpel/scalpel_target.cmake 644
echo "installed $manifest"
