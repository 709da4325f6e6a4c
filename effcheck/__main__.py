from effcheck.cli import main

raise SystemExit(main())
