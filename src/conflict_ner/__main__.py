from conflict_ner.cli import main

main()
