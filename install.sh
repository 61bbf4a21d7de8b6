#!/bin/sh
# Install outeai from this clone, with its offline voice, and put the `outeai` command on PATH.
#
#   ./install.sh
#
# The program goes into a virtual environment of its own, ${XDG_DATA_HOME:-~/.local/share}/outeai
# (PYTHON=python3.12 ./install.sh picks the Python; 3.11 or newer). The command is linked into the
# first of ~/.local/bin, ~/bin and /usr/local/bin that is on your PATH and writable, so the shell
# you are in finds it at once, and its manual pages into the share/man beside that bin. Run it
# again to update. To uninstall, remove those links and ${XDG_DATA_HOME:-~/.local/share}/outeai.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
home="${XDG_DATA_HOME:-$HOME/.local/share}/outeai"
python="${PYTHON:-python3}"

say() { printf 'install.sh: %s\n' "$*" >&2; }

if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    say "outeai needs Python 3.11 or newer; $python is not (try PYTHON=python3.12 ./install.sh)"
    exit 1
fi
if ! "$python" -c 'import ensurepip, venv' 2>/dev/null; then
    say "$python cannot make a virtual environment: install its venv module (e.g. sudo apt install python3-venv)"
    exit 1
fi

say "installing into $home (a minute or two: about 360 MB with the voice)"
"$python" -m venv "$home"
"$home/bin/python" -m pip install --quiet --disable-pip-version-check "$here[voice]"

# The first conventional place on PATH that we may write to; else ~/.local/bin, which a
# login shell on most Linux systems puts on PATH once it exists.
bin=""
for dir in "$HOME/.local/bin" "$HOME/bin" /usr/local/bin; do
    case ":$PATH:" in *":$dir:"*) ;; *) continue ;; esac
    if mkdir -p "$dir" 2>/dev/null && [ -w "$dir" ]; then
        bin=$dir
        break
    fi
done
on_path=yes
if [ -z "$bin" ]; then
    bin="$HOME/.local/bin"
    on_path=no
    mkdir -p "$bin"
fi
if [ -e "$bin/outeai" ] && [ ! -L "$bin/outeai" ]; then
    say "$bin/outeai exists and is not a link made by this script: remove it, then run this again"
    exit 1
fi
ln -sf "$home/bin/outeai" "$bin/outeai"

# The manual pages beside it, where man looks for a command found in DIR/bin: DIR/share/man
# (~/.local/share/man for ~/.local/bin). Pages of the same name that are not our links stay.
case "$bin" in "$HOME/bin") man1="" ;; */bin) man1="${bin%/bin}/share/man/man1" ;; *) man1="" ;; esac
if [ -n "$man1" ] && mkdir -p "$man1" 2>/dev/null && [ -w "$man1" ]; then
    for page in "$home"/share/man/man1/outeai*.1; do
        if [ -e "$page" ] && { [ -L "$man1/${page##*/}" ] || [ ! -e "$man1/${page##*/}" ]; }; then
            ln -sf "$page" "$man1/${page##*/}"
        fi
    done
fi

say "done: $bin/outeai ($("$bin/outeai" --version))"
if [ "$on_path" = no ]; then
    say "$bin is not on your PATH yet: open a new login shell, or run"
    say "  export PATH=\"$bin:\$PATH\""
fi
