from sangsach.cli import main

main()
