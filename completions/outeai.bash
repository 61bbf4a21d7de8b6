# Shell completion for outeai (bash). Generated from the app by `make docs`; do not edit.
# Install: copy to ~/.local/share/bash-completion/completions/outeai, or source it from ~/.bashrc.
# It runs `outeai` to get the candidates, so keep outeai on PATH.
_outeai_completion() {
    local IFS=$'
'
    COMPREPLY=( $( env COMP_WORDS="${COMP_WORDS[*]}" \
                   COMP_CWORD=$COMP_CWORD \
                   _OUTEAI_COMPLETE=complete_bash $1 ) )
    return 0
}

complete -o default -F _outeai_completion outeai
