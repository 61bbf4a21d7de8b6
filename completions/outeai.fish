# Shell completion for outeai (fish). Generated from the app by `make docs`; do not edit.
# Install: copy to ~/.config/fish/completions/outeai.fish.
# It runs `outeai` to get the candidates, so keep outeai on PATH.
complete --command outeai --no-files --arguments "(env _OUTEAI_COMPLETE=complete_fish _TYPER_COMPLETE_FISH_ACTION=get-args _TYPER_COMPLETE_ARGS=(commandline -cp) outeai)" --condition "env _OUTEAI_COMPLETE=complete_fish _TYPER_COMPLETE_FISH_ACTION=is-args _TYPER_COMPLETE_ARGS=(commandline -cp) outeai"
