from pyldirectord.cli.main import main

raise SystemExit(main())
