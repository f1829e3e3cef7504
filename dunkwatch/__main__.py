from dunkwatch.cli import main

raise SystemExit(main())
