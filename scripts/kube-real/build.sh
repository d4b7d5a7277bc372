#!/bin/sh
# Builds a real Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok) from
# pinned sources through the Go module proxy, into a cache directory keyed by the versions, so only the first run
# builds. Each component is built the way out-of-tree projects build them: a throwaway Go module (under the cache
# directory, never in this repository) that requires the upstream module; for k8s.io/kubernetes it also replaces every
# k8s.io/* staging module (required there as v0.0.0) by its published v0.X.Y.
#
# Usage: sh scripts/kube-real/build.sh [--check | --if-go]
#   prints the bin directory on its last line; --check only reports whether the cache is complete (exit 0 or 1);
#   --if-go (npm test's pretest) prints one line and exits 0 where Go is absent (the tests then skip).
# Environment: RONDO_KUBE_REAL_CACHE (default ~/.cache/rondo/kube-real), GO (default: go on PATH, else
# /usr/local/go/bin/go), RONDO_KUBE_REAL_NICE (default 10), versions below (change them together with docs/kubernetes.md).
# Exit codes: 0 built or cached; 1 a step failed (named on stderr); 3 Go is absent.
set -eu

K8S_VERSION=${RONDO_K8S_VERSION:-v1.36.3}
ETCD_VERSION=${RONDO_ETCD_VERSION:-v3.6.16}
KWOK_VERSION=${RONDO_KWOK_VERSION:-v0.8.0}
# The staging modules of k8s.io/kubernetes v1.X.Y are published as v0.X.Y.
STAGING_VERSION=v0.${K8S_VERSION#v1.}

CACHE_ROOT=${RONDO_KUBE_REAL_CACHE:-${HOME}/.cache/rondo/kube-real}
KEY="${K8S_VERSION}-${ETCD_VERSION}-${KWOK_VERSION}"
DIR="${CACHE_ROOT}/${KEY}"
BIN="${DIR}/bin"
NICE=${RONDO_KUBE_REAL_NICE:-10}
BINARIES="etcd kube-apiserver kube-controller-manager kube-scheduler kwok"

complete() {
  for b in $BINARIES; do [ -x "$BIN/$b" ] || return 1; done
  return 0
}

MODE=${1:-}
if [ "$MODE" = "--check" ]; then
  if complete; then echo "$BIN"; exit 0; fi
  exit 1
fi

if complete; then
  echo "kube-real: cached ${KEY} in ${BIN}" >&2
  echo "$BIN"
  exit 0
fi

if [ -n "${GO:-}" ]; then :
elif command -v go >/dev/null 2>&1; then GO=$(command -v go)
elif [ -x /usr/local/go/bin/go ]; then GO=/usr/local/go/bin/go
else
  if [ "$MODE" = "--if-go" ]; then
    echo "kube-real: Go not found (set GO or put go on PATH): the real-control-plane tests (test/kube-real) will be skipped" >&2
    exit 0
  fi
  echo "kube-real: Go not found (set GO or put go on PATH); cannot build the real control plane" >&2
  exit 3
fi

now() { date +%s; }
T0=$(now)
CURRENT_STEP=""
fail() {
  echo "kube-real: FAILED at step '${CURRENT_STEP}' (log: ${DIR}/build.log, last lines below)" >&2
  tail -n 30 "${DIR}/build.log" >&2 || true
  exit 1
}
# step NAME CMD...: runs CMD in the current directory with output appended to build.log, one line with its duration.
step() {
  CURRENT_STEP=$1
  shift
  s=$(now)
  echo "kube-real: ${CURRENT_STEP} ..." >&2
  echo "=== ${CURRENT_STEP}: $*" >>"${DIR}/build.log"
  "$@" >>"${DIR}/build.log" 2>&1 || fail
  echo "kube-real: ${CURRENT_STEP} done in $(( $(now) - s )) s" >&2
}

mkdir -p "$BIN" "$DIR/src"
: >"${DIR}/build.log"
echo "kube-real: building ${KEY} with $("$GO" version) into ${BIN} (first run only; tens of minutes on 2 cores)" >&2

export GOFLAGS="-trimpath -mod=mod"
export CGO_ENABLED=0
export GOTOOLCHAIN=local
LDFLAGS="-s -w"
GOBUILD="nice -n ${NICE} ${GO} build"

# A throwaway module: go.mod with the given requirement (and replaces), then `go get` of the main packages so go.sum
# holds exactly what their builds need.
new_module() {
  d="$DIR/src/$1"
  rm -rf "$d"
  mkdir -p "$d"
  printf 'module rondo.local/kube-real/%s\n\ngo 1.26.0\n' "$1" >"$d/go.mod"
}

# go_binary NAME MODULE@VERSION PACKAGE: a throwaway module that requires MODULE@VERSION, then PACKAGE built into
# $BIN/NAME (through NAME.tmp, so an interrupted build never leaves a binary that `complete` would accept).
go_binary() {
  [ ! -x "$BIN/$1" ] || return 0
  new_module "$1"
  cd "$DIR/src/$1"
  step "$1: fetch $2" "$GO" get "$2"
  step "$1: build" $GOBUILD -ldflags="$LDFLAGS" -o "$BIN/$1.tmp" "$3"
  mv "$BIN/$1.tmp" "$BIN/$1"
}

go_binary etcd "go.etcd.io/etcd/server/v3@${ETCD_VERSION}" go.etcd.io/etcd/server/v3
go_binary kwok "sigs.k8s.io/kwok/cmd/kwok@${KWOK_VERSION}" sigs.k8s.io/kwok/cmd/kwok

# --- kubernetes ---------------------------------------------------------------------------------------------------
if [ ! -x "$BIN/kube-apiserver" ] || [ ! -x "$BIN/kube-controller-manager" ] || [ ! -x "$BIN/kube-scheduler" ]; then
  new_module kubernetes
  cd "$DIR/src/kubernetes"
  step "kubernetes: fetch k8s.io/kubernetes@${K8S_VERSION} go.mod" "$GO" mod download -json "k8s.io/kubernetes@${K8S_VERSION}"
  upstream_mod=$("$GO" mod download -json "k8s.io/kubernetes@${K8S_VERSION}" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  CURRENT_STEP="kubernetes: read staging modules"
  [ -f "$upstream_mod" ] || fail
  # Every `k8s.io/X => ./staging/src/k8s.io/X` replace upstream becomes `k8s.io/X => k8s.io/X <staging version>`.
  {
    printf 'require k8s.io/kubernetes %s\n\n' "$K8S_VERSION"
    sed -n 's#^[[:space:]]*\(k8s\.io/[a-z0-9-]*\) => \./staging/src/.*#replace \1 => \1 '"$STAGING_VERSION"'#p' "$upstream_mod"
  } >>go.mod
  grep -q '^replace k8s.io/api =>' go.mod || fail
  step "kubernetes: fetch dependencies (staging ${STAGING_VERSION})" "$GO" get \
    "k8s.io/kubernetes/cmd/kube-apiserver@${K8S_VERSION}" \
    "k8s.io/kubernetes/cmd/kube-controller-manager@${K8S_VERSION}" \
    "k8s.io/kubernetes/cmd/kube-scheduler@${K8S_VERSION}"
  minor=${K8S_VERSION#v1.}
  minor=${minor%%.*}
  # The version the binaries report (/version); component-base reads these at link time.
  KLD="$LDFLAGS -X k8s.io/component-base/version.gitVersion=${K8S_VERSION} -X k8s.io/component-base/version.gitMajor=1"
  KLD="$KLD -X k8s.io/component-base/version.gitMinor=${minor} -X k8s.io/component-base/version.gitTreeState=clean"
  for c in kube-apiserver kube-controller-manager kube-scheduler; do
    if [ ! -x "$BIN/$c" ]; then
      step "kubernetes: build $c" $GOBUILD -ldflags="$KLD" -o "$BIN/$c.tmp" "k8s.io/kubernetes/cmd/$c"
      mv "$BIN/$c.tmp" "$BIN/$c"
    fi
  done
fi

complete || { CURRENT_STEP="final check"; fail; }
printf '%s\n' "k8s=${K8S_VERSION} etcd=${ETCD_VERSION} kwok=${KWOK_VERSION} go=$("$GO" env GOVERSION)" >"$DIR/VERSIONS"
echo "kube-real: built ${KEY} in $(( $(now) - T0 )) s" >&2
echo "$BIN"
