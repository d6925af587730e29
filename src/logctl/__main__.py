from logctl.cli import main

main()
