from outeai_cli.cli.app import main

main()
