from pyldirectord.cli import main

raise SystemExit(main())
