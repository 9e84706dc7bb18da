# Login shells of base-runtime (and the images built on it): settings for troubleshooting a
# running container.

# Pagers and editors that exist here (vim is vim.tiny).
export PAGER=less EDITOR=vim VISUAL=vim
# less: quit when the text fits the screen, show colours, do not clear the screen.
export LESS=-FRX

# The AWS CLI: no pager (it would wait for a key in scripts and in `exec` sessions).
export AWS_PAGER=""

# What is listening, and who talks to whom (ss from iproute2). Functions rather than aliases,
# so that `bash -lc listening` works too.
listening() { ss -tulpn "$@"; }
connections() { ss -tupn "$@"; }

# The tools this image was built with, to answer "what can I use here?".
tools() {
    for t in aws curl dig git gpg htop ip jq less lsof nc netstat ping pip3 ps pv rsync \
             ss ssh strace tcpdump vim; do
        if command -v "$t" >/dev/null 2>&1; then printf '  %-8s %s\n' "$t" "$(command -v "$t")"
        else printf '  %-8s MISSING\n' "$t"; fi
    done
}
