from catfacts.cli import main

main()
