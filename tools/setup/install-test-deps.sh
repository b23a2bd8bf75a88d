#!/usr/bin/env bash
# Installs the Debian packages that the tests use and a fresh machine lacks, so that no test skips itself for want
# of them: OpenBLAS (the optional GEMM backend, compared with the managed one), MPICH (libmpi.so.12 and mpiexec,
# which the distributed tests launch) and Chromium (the experiment reports are rendered in a real browser, headless,
# to check that every plot loads and the page logs no error).
# Needs root (or sudo) only when something is missing; prints what it installs.
# i.e. what `apt-get update && apt-get install -y --no-install-recommends libopenblas0-pthread mpich chromium` does, only when needed
packages=(libopenblas0-pthread mpich chromium)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-test-deps: installing ${missing[*]} (Debian packages the tests use)"
as_root=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "install-test-deps: need root or sudo to install ${missing[*]}" >&2; exit 1; }
  as_root=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
