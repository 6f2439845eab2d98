from ipabs.cli import main

main()
