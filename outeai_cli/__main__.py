from outeai_cli.cli.entry import main

main()
